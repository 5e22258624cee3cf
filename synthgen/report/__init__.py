"""``synthgen report``: what a run folder holds, as report.json and one self-contained page.

It reads run folders through ``synthgen.runfolder.reader.open_run`` and recipes through their
record-only hooks, never the runner; the heavy libraries (matplotlib, numpy, datasketch) are
imported inside the functions that draw or sketch.
"""
