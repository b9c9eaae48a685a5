"""kit.policy"""
