"""Lane events: raw reads -> zones -> dedup/presence -> arbitration -> vehicle passages."""
