"""`python -m keras_denoise`: the `keras-denoise` command line."""

import sys

from keras_denoise._cli import main

if __name__ == "__main__":
    sys.exit(main())
