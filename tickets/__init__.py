"""tickets: the case behind every call (工单/警单), the transfer catalog (分流转办事项清单)
that says which platform a matter belongs to, and moving tickets between platforms."""
