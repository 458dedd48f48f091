"""Reader and camera drivers: thin I/O shells around sans-I/O codecs."""
