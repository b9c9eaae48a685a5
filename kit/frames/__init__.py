"""kit.frames"""
