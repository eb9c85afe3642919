import sys
from pathlib import Path

# tests/ holds shared fixture builders (layouts.py) imported by several test files
sys.path.insert(0, str(Path(__file__).parent))
