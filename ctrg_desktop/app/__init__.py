"""The Qt + VTK layer: the only package that imports PySide6 or VTK."""

import sys

# Mesa's software OpenGL (llvmpipe) and triton each load their own LLVM: importing triton
# after OpenGL has started crashes the process (torch imports triton lazily, e.g. when
# transformers loads). The app never compiles GPU kernels, so triton stays out of it unless
# it is already loaded (loading it first is safe).
sys.modules.setdefault("triton", None)
