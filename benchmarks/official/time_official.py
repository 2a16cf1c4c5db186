# Times the official SvANet (or its DeepLabv3 baseline, --guide 0): the
# forward pass (eval mode, no gradients) or a training step (--train:
# forward, cross-entropy, backward, AdamW step) on random data, to set beside
# svanet's bench_forward on the same machine and threads.
# benchmarks/compare_official.sh runs it; it needs Debian's python3-torch and
# a checkout of the official repository (which it imports, from the current
# directory; nothing of it is copied into svanet). The last line,
# `result: key=value ...`, has the keys of bench_forward's.
import argparse, resource, statistics, sys, time
import torch

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=512)
p.add_argument("--batch", type=int, default=1)
p.add_argument("--repeats", type=int, default=3)
p.add_argument("--warmup", type=int, default=1)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--encoder", default="resnet50")
p.add_argument("--guide", type=int, default=2,
               help="--seg_feature_guide: 2 is SvANet as in the paper, 0 the DeepLabv3 baseline")
p.add_argument("--train", action="store_true")
p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
p.add_argument("--channels-last", action="store_true")
p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (shell/gpu_check.sh's comparison)")
a = p.parse_args()
device = torch.device(a.device)
cuda = device.type == "cuda"
torch.set_num_threads(a.threads)
torch.manual_seed(0)
sys.argv = [sys.argv[0]]
from opts import Opts
args = ("--task segmentation --gpus -1 --setname ISIC2018T1 --model_name %s --sup_method common "
        "--seg_head_name deeplabv3 --fg_start_stage 1 --seg_feature_guide %d --fg_bottle 1 "
        "--fg_bottle_se 2 --fg_svattn 1 --fg_vit 1 --fg_vit_se 0 --fg_link 2 --fg_link_vit 1 "
        "--fg_link_vit_se 0" % (a.encoder, a.guide)).split()
opt = Opts().parse(args)
from lib.params_init.segInit import segmentationParamsInit
opt = segmentationParamsInit(opt)
opt.num_classes = opt.seg_num_classes = opt.cls_num_classes = 2
opt.resize_shape = a.size
opt.device = device
opt.pretrained = 0
from lib.model import getModel
model = getModel(opt)
fmt = torch.channels_last if a.channels_last else torch.contiguous_format
model = model.to(device=device, memory_format=fmt)
x = torch.rand(a.batch, 3, a.size, a.size).to(device).contiguous(memory_format=fmt)
target = torch.randint(2, (a.batch, a.size, a.size)).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
bf16 = a.precision == "bf16"


def first(y):
    return y[0] if isinstance(y, (list, tuple)) else y


def step():
    if a.train:
        model.train()
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            y = first(model(x))
        loss = torch.nn.functional.cross_entropy(y.float(), target)
        loss.backward()
        optimizer.step()
        return loss.detach()
    model.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        return first(model(x))


for _ in range(a.warmup):
    step()
if cuda:
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
times = []
for _ in range(a.repeats):
    t0 = time.perf_counter()
    out = step()
    if cuda:
        torch.cuda.synchronize(device)
    times.append(time.perf_counter() - t0)
peak_cuda = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else 0.0
assert torch.isfinite(out).all(), "output is not finite"
name = ("svanet" if a.guide else "deeplabv3") + "(%s)" % a.encoder
mode = "train" if a.train else "forward"
median = statistics.median(times)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("official %s %s %d^2 batch %d, %d threads, %s%s: median %.3f s, min %.3f, max %.3f "
      "(%d runs), %.2f images/s, params %d, peak RSS %.0f MiB, peak CUDA %.0f MiB" % (
          name, mode, a.size, a.batch, a.threads, a.precision,
          " channels-last" if a.channels_last else "", median, min(times), max(times),
          a.repeats, a.batch / median, sum(p.numel() for p in model.parameters()), rss,
          peak_cuda))
print("result: side=official model=%s mode=%s size=%d batch=%d precision=%s%s median_s=%.4f "
      "min_s=%.4f max_s=%.4f images_per_s=%.2f peak_rss_mib=%.0f device=%s peak_cuda_mib=%.0f" % (
          name, mode, a.size, a.batch, a.precision, "-cl" if a.channels_last else "", median,
          min(times), max(times), a.batch / median, rss, device, peak_cuda))
