# Times the official SvANet forward pass (eval mode, no gradients) on a
# random image, to set beside svanet's bench_predict on the same machine and
# threads. benchmarks/compare_predict_official.sh runs it; it needs Debian's
# python3-torch and a checkout of the official repository (which it imports,
# from the current directory; nothing of it is copied into svanet).
import argparse, resource, statistics, sys, time
import torch

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=512)
p.add_argument("--repeats", type=int, default=3)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--encoder", default="resnet50")
a = p.parse_args()
torch.set_num_threads(a.threads)
sys.argv = [sys.argv[0]]
from opts import Opts
args = ("--task segmentation --gpus -1 --setname ISIC2018T1 --model_name %s --sup_method common "
        "--seg_head_name deeplabv3 --fg_start_stage 1 --seg_feature_guide 2 --fg_bottle 1 "
        "--fg_bottle_se 2 --fg_svattn 1 --fg_vit 1 --fg_vit_se 0 --fg_link 2 --fg_link_vit 1 "
        "--fg_link_vit_se 0" % a.encoder).split()
opt = Opts().parse(args)
from lib.params_init.segInit import segmentationParamsInit
opt = segmentationParamsInit(opt)
opt.num_classes = opt.seg_num_classes = opt.cls_num_classes = 2
opt.resize_shape = a.size
opt.device = torch.device("cpu")
opt.pretrained = 0
from lib.model import getModel
model = getModel(opt).eval()
x = torch.rand(1, 3, a.size, a.size)
times = []
with torch.no_grad():
    model(x)
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        y = model(x)
        times.append(time.perf_counter() - t0)
y = y[0] if isinstance(y, (list, tuple)) else y
print("official svanet(%s) forward %d^2 batch 1, %d threads: median %.3f s, min %.3f, max %.3f "
      "(%d runs), params %d, peak RSS %.0f MiB" % (
          a.encoder, a.size, a.threads, statistics.median(times), min(times), max(times),
          a.repeats, sum(p.numel() for p in model.parameters()),
          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
