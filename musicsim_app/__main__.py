import sys

from musicsim_app.app import main

if __name__ == "__main__":
    sys.exit(main())
