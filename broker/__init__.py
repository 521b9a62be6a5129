"""Embedded Tansu Kafka broker: process lifecycle, topic set-up, true high watermarks, runtime file."""
