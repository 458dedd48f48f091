"""ASCII-line tag readers (one tag per line): sans-I/O line splitting and formats, and a
pyserial driver (:mod:`.driver`)."""

from drivers.ascii_serial.formats import PRESETS, LineError, LineRead, compile_pattern, parse_line
from drivers.ascii_serial.lines import LineSplitter

__all__ = ["PRESETS", "LineError", "LineRead", "LineSplitter", "compile_pattern", "parse_line"]
