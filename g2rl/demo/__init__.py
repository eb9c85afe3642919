"""The demo dataset: real faces from public-domain photos, synthetic FACS expressions, DISFA/BP4D layouts.

Entry points: :func:`generate_demo` (also ``g2rl demo-data``) and :func:`write_contact_sheet`.
See docs/DEMO_DATA.md for how the data is made and what it does and does not exercise.
"""

from g2rl.demo.contact_sheet import write_contact_sheet
from g2rl.demo.generator import (DEFAULT_BP4D_DEVEL, DEFAULT_BP4D_TASKS, DEFAULT_BP4D_TRAIN, DEFAULT_DISFA_SUBJECTS,
                                 DEFAULT_FRAME_SIZE, generate_demo)

__all__ = [
    "DEFAULT_BP4D_DEVEL",
    "DEFAULT_BP4D_TASKS",
    "DEFAULT_BP4D_TRAIN",
    "DEFAULT_DISFA_SUBJECTS",
    "DEFAULT_FRAME_SIZE",
    "generate_demo",
    "write_contact_sheet",
]
