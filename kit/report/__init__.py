"""kit.report"""
