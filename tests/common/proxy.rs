//! Fault-injecting proxy harness (see tests/fault_proxy.py).
