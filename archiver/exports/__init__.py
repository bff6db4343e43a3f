"""Exports: open-records packages (BagIt ZIPs) and litigation productions (DAT/OPT load files).

Both stream: items are read thread by thread and written straight to files in a temporary
folder, so memory does not grow with the number of items; the ZIP appears under its final name
only when complete.
"""
