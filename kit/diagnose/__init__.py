"""kit.diagnose"""
