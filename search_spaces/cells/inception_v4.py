"""(being written)"""
CELLS: tuple = ()
