"""(being written)"""
SPACE = None
