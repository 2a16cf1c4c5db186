# shellcheck shell=bash
# Sourced by the compare scripts.
#
# check_official_setup BENCH OFFICIAL: refuses to start without svanet's
# benchmark program, the official repository or Debian's python3-torch.
check_official_setup() {
  [ -x "$1" ] || { echo "error: $1 not built (bash shell/build.sh)" >&2; exit 1; }
  [ -f "$2/opts.py" ] || { echo "error: $2: not the official SvANet repository (no opts.py)" >&2; exit 1; }
  /usr/bin/python3 -c 'import torch' 2>/dev/null ||
    { echo "error: /usr/bin/python3 has no torch (apt install python3-torch)" >&2; exit 1; }
}

# make_official_stubs DIR: stand-ins in DIR
# for the official code's imports of einops, timm, imgviz and imageio.v3,
# which are not on the model's path (and not packaged by Debian, or not
# needed), so that Debian's python3-torch can import the model.
make_official_stubs() {
  local stubs=$1
  mkdir -p "$stubs/einops" "$stubs/timm/models" "$stubs/imgviz" "$stubs/imageio"
  echo "def rearrange(*a, **k): raise NotImplementedError('stand-in')" > "$stubs/einops/__init__.py"
  touch "$stubs/timm/__init__.py" "$stubs/timm/models/__init__.py" "$stubs/imageio/__init__.py" \
    "$stubs/imageio/v3.py"
  echo "class PatchEmbed: pass" > "$stubs/timm/models/vision_transformer.py"
  printf 'import numpy as np\ndef label_colormap(n=256):\n    return np.zeros((n, 3), dtype=np.uint8)\n' \
    > "$stubs/imgviz/__init__.py"
}
