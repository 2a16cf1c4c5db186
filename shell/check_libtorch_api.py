#!/usr/bin/env python3
"""Compiles svanet's sources (-fsyntax-only) against another LibTorch's headers.

svanet is built and tested with Debian's LibTorch 1.13; users also build it
against LibTorch 2.x. This checks, without that LibTorch's libraries, that
every source of a configured build compiles against its headers: it takes
the build's compile_commands.json, puts the other headers ahead of the
installed ones, and fails a file that has an error, a warning in svanet's
own code, or an include that still came from the installed LibTorch.

Headers to check against, e.g. Debian's newer packages (not installed, only
unpacked) or the include/ folder of an official LibTorch download:

  curl -O http://deb.debian.org/debian/pool/main/p/pytorch/libtorch-dev_2.14.1+dfsg-1_amd64.deb
  dpkg -x libtorch-dev_2.14.1+dfsg-1_amd64.deb /tmp/lt214
  python3 shell/check_libtorch_api.py /tmp/lt214/usr/include --std c++20
  python3 shell/check_libtorch_api.py /opt/libtorch/include src/engine tests/engine

With --cuda DIR (a CUDA toolkit's include folder) and a CUDA LibTorch's
headers (Debian's contrib libtorch-cuda-dev, or a CUDA LibTorch download),
the NCCL process group (src/engine/distributed.cpp) and the CUDA memory
statistics of bench_forward are compiled too. Extra arguments keep only the
sources whose path contains one of them. Exits 1 if a file fails.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def arguments():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("include", help="the other LibTorch's include folder (has torch/ and c10/)")
    parser.add_argument("only", nargs="*", help="keep the sources whose path contains one of these")
    parser.add_argument("--std", default="c++17", help="C++ standard (LibTorch 2.12 and later: c++20)")
    parser.add_argument("--cuda", metavar="DIR", help="a CUDA toolkit's include folder")
    parser.add_argument("--build", default="build", help="the configured build (default: build)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="compilers at a time (default: one per core)")
    args = parser.parse_intermixed_args()
    if not os.path.isfile(os.path.join(args.include, "torch", "csrc", "api", "include", "torch", "torch.h")):
        parser.error(f"{args.include}: no torch/csrc/api/include/torch/torch.h there")
    if args.cuda and not os.path.isfile(os.path.join(args.cuda, "cuda_runtime_api.h")):
        parser.error(f"--cuda {args.cuda}: no cuda_runtime_api.h there")
    return args


def installed_torch_includes(commands):
    """The include folders of the LibTorch the build was configured with."""
    found = set()
    for entry in commands:
        words = shlex.split(entry["command"])
        for flag, value in zip(words, words[1:]):
            if flag == "-isystem" and value.endswith("torch/csrc/api/include"):
                found.add(value)
                found.add(value[: -len("torch/csrc/api/include")].rstrip("/"))
    return found


def command_for(entry, args, installed):
    """The build's command for one source, as a syntax check against the other headers."""
    words = shlex.split(entry["command"])
    out = [words[0], "-fsyntax-only", "-H", "-isystem", args.include,
           "-isystem", os.path.join(args.include, "torch", "csrc", "api", "include")]
    if args.cuda:
        out += ["-isystem", args.cuda]
    rest = iter(words[1:])
    for word in rest:
        if word in ("-o", "-include", "-MF", "-MT"):  # output, precompiled header, depfiles
            next(rest, None)
        elif word in ("-c", "-MD", "-Winvalid-pch") or word.startswith("-std=") or word == entry["file"]:
            pass
        elif word == "-isystem":
            folder = next(rest, "")
            if folder not in installed:
                out += [word, folder]
        elif args.cuda and word in ("-DSVANET_HAVE_NCCL=0", "-DSVANET_WITH_CUDA=0"):
            out.append(word[:-1] + "1")
            if "NCCL" in word:
                out.append("-DUSE_C10D_NCCL")
        else:
            out.append(word)
    return out + ["-std=" + args.std, entry["file"]]


def check(entry, args, installed, old_header):
    run = subprocess.run(command_for(entry, args, installed), cwd=entry["directory"],
                         capture_output=True, text=True)
    lines = run.stderr.splitlines()
    headers = [line.lstrip(". ") for line in lines if line.startswith(".")]
    stale = sorted({h for h in headers if old_header.match(h)})
    source_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = [line for line in lines if "error:" in line or
                ("warning:" in line and line.startswith(source_root))]
    if run.returncode != 0 and not problems:
        problems = [line for line in lines if not line.startswith(".")][:40]
    return entry["file"], problems, stale


def main():
    args = arguments()
    database = os.path.join(args.build, "compile_commands.json")
    if not os.path.isfile(database):
        sys.exit(f"{database}: not found; configure the build first (bash shell/build.sh)")
    with open(database, encoding="utf-8") as f:
        commands = json.load(f)
    commands = [e for e in commands if not e["file"].endswith(".hxx.cxx")]  # precompiled headers
    if args.only:
        commands = [e for e in commands if any(part in e["file"] for part in args.only)]
    if not commands:
        sys.exit("no source left to check")
    installed = installed_torch_includes(commands)
    prefixes = "|".join(re.escape(p.rstrip("/")) for p in sorted(installed)) or "^$"
    old_header = re.compile(rf"^({prefixes})/(ATen|c10|torch|caffe2)/")
    failed = 0
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = pool.map(lambda e: check(e, args, installed, old_header), commands)
        for source, problems, stale in results:
            ok = not problems and not stale
            failed += not ok
            print(("ok   " if ok else "FAIL ") + os.path.relpath(source), flush=True)
            for line in problems[:40]:
                print("     " + line)
            for header in stale[:5]:
                print("     included from the installed LibTorch: " + header)
    print(f"{len(commands) - failed} of {len(commands)} sources compile against {args.include}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
