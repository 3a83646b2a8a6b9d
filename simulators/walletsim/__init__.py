"""Wallet channel simulator (Alipay-style or WeChat-Pay-style): signed HTTP, async notifications."""
