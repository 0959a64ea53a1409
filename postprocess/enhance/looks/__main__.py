"""`python -m postprocess.enhance.looks`: write the shipped .cube files again from the code."""

from postprocess.enhance.looks import write_all

for path in write_all():
    print(f"{path} ({path.stat().st_size:,} bytes)")
