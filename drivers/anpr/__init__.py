"""ANPR / OCR cameras: number plates and container codes pushed by the camera (webhook or MQTT).

* :mod:`drivers.anpr.formats` - the event formats (Rekor Scout / OpenALPR, Hikvision ISAPI, generic
  JSON field paths), sans-I/O;
* :mod:`drivers.anpr.sources` - the ``anpr+webhook://`` and ``anpr+mqtt://`` sources.
"""
