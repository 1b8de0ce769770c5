"""(being written)"""
BACKBONES: tuple = ()
