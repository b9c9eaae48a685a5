"""kit.simulate"""
