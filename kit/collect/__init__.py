"""kit.collect"""
