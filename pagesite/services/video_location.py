"""Removing the place a video was shot from an MP4 (or QuickTime) file, without re-encoding.

Phones and cameras write it as metadata boxes ("atoms") inside ``moov``:

* ``©xyz`` in a ``udta`` (user data, of the movie or of a track): an ISO 6709
  string such as ``+48.8577+002.2950/`` (QuickTime, Android, GoPro...);
* ``loci`` in a ``udta``: the 3GPP location box;
* in a ``meta`` box with ``keys`` and ``ilst`` (Apple's metadata), the items whose
  key is ``com.apple.quicktime.location.ISO6709`` (or another
  ``com.apple.quicktime.location.*``: a place name, its accuracy...), and in an
  iTunes-style ``ilst`` a ``©xyz`` item;
* XMP (``udta/XMP_``, or a ``uuid`` box of XMP) that carries GPS, as for photos.

Each such box is overwritten where it lies: its type becomes ``free`` and its
contents zeros, its size unchanged. A ``free`` box is one every reader skips
(ISO/IEC 14496-12, 8.1.2: its contents "are irrelevant and may be ignored").
Nothing moves, and that is the point: the sample tables (``stco``/``co64``) give
the frames' places as absolute file offsets, so removing bytes from ``moov``
(when it precedes ``mdat``, as in every file made for streaming) would shift
every frame and break the file unless each offset were rewritten; a box of the
same size in the same place keeps every offset true. Only the box headers and
the few small boxes named above are read, so a 200 MB video costs a handful of
reads.
"""

import struct

FREE = b"free"
LOCATION_BOXES = {b"\xa9xyz", b"loci"}
XMP_BOX = b"XMP_"
XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
LOCATION_KEY_PREFIX = b"com.apple.quicktime.location."
# Where location may be kept, and so which boxes are opened: parent -> the children to open.
OPENED = {
    None: {b"moov", b"meta", b"udta"},  # the top level
    b"moov": {b"trak", b"udta", b"meta"},
    b"trak": {b"udta", b"meta"},
    b"udta": {b"meta"},
    b"meta": {b"ilst"},
}
MAX_READ = 16 * 1024 * 1024  # the most of one metadata box read to look inside it (XMP, keys)


class Damaged(ValueError):
    """The boxes cannot be read, so whether it carries a location cannot be told."""


class _Box:
    __slots__ = ("type", "start", "body", "end")

    def __init__(self, type_, start, body, end):
        self.type, self.start, self.body, self.end = type_, start, body, end


def _children(f, start, end, top=False):
    """The boxes from ``start`` to ``end``. Damaged when one does not fit in its parent; at
    the top level, the last box may run past the end of the file (a recording cut short)."""
    boxes = []
    offset = start
    while end - offset >= 8:
        f.seek(offset)
        size, type_ = struct.unpack(">I4s", f.read(8))
        body = offset + 8
        if size == 1:  # a 64-bit size follows the type
            header = f.read(8)
            if len(header) < 8:
                raise Damaged("a box's size is cut off")
            size = struct.unpack(">Q", header)[0]
            body += 8
        elif size == 0:  # to the end of the file (or of its parent)
            size = end - offset
        if size < body - offset:
            raise Damaged(f"a {type_!r} box is smaller than its own header")
        box_end = offset + size
        if box_end > end:
            if not top:
                raise Damaged(f"a {type_!r} box runs past its parent")
            box_end = end
        boxes.append(_Box(type_, offset, body, box_end))
        offset = box_end
    # Fewer than 8 bytes left hold no box (QuickTime ends a udta with 4 zero bytes).
    return boxes


def _read(f, box, skip=0):
    f.seek(box.body + skip)
    return f.read(min(box.end - box.body - skip, MAX_READ))


def _meta_children_start(f, box):
    """Where a ``meta`` box's children begin: after a version and flags in an MP4 (a full
    box), right away in QuickTime's own ``meta``, whose first child is its ``hdlr``."""
    f.seek(box.body)
    head = f.read(8)
    return box.body if head[4:8] in (b"hdlr", b"keys", b"ilst") else box.body + 4


def _location_keys(f, keys_box):
    """The 1-based indexes of location keys in a ``keys`` box (version, flags, count, then
    each key as size, namespace, name)."""
    data = _read(f, keys_box)
    if len(data) < 8:
        raise Damaged("a keys box is cut off")
    count = struct.unpack(">I", data[4:8])[0]
    indexes, offset = set(), 8
    for index in range(1, count + 1):
        if offset + 8 > len(data):
            raise Damaged("a keys box lists more keys than it holds")
        size = struct.unpack(">I", data[offset:offset + 4])[0]
        if size < 8 or offset + size > len(data):
            raise Damaged("a key runs past its keys box")
        if data[offset + 8:offset + size].startswith(LOCATION_KEY_PREFIX):
            indexes.add(index)
        offset += size
    return indexes


def _carries_gps(f, box, skip=0):
    return b"GPS" in _read(f, box, skip)


def location_boxes(f, size):
    """Every box of the file ``f`` (``size`` bytes) that holds a location: [(start, end)]."""
    found = []

    def walk(parent_type, start, end, top=False):
        boxes = _children(f, start, end, top)
        location_keys = set()
        if parent_type == b"meta":
            for box in boxes:
                if box.type == b"keys":
                    location_keys |= _location_keys(f, box)
        for box in boxes:
            if box.type in LOCATION_BOXES:
                found.append(box)
            elif box.type == XMP_BOX and parent_type == b"udta" and _carries_gps(f, box):
                found.append(box)
            elif box.type == b"uuid" and _is_xmp_uuid(f, box) and _carries_gps(f, box, skip=16):
                found.append(box)
            elif box.type in OPENED.get(parent_type, ()):
                if box.type == b"ilst":
                    walk_items(box, location_keys)
                elif box.type == b"meta":
                    walk(b"meta", _meta_children_start(f, box), box.end)
                else:
                    walk(box.type, box.body, box.end)

    def walk_items(ilst, location_keys):
        # An item's type is its key's index (big-endian) under keys, or a name (©xyz) in iTunes style.
        for item in _children(f, ilst.body, ilst.end):
            if item.type in LOCATION_BOXES or struct.unpack(">I", item.type)[0] in location_keys:
                found.append(item)

    walk(None, 0, size, top=True)
    return [(box.start, box.end) for box in found]


def _is_xmp_uuid(f, box):
    f.seek(box.body)
    return f.read(16) == XMP_UUID


def strip(f, size):
    """Turn every location box of ``f`` (open for reading and writing) into a ``free`` box of the
    same size, its contents zeroed. Returns how many there were; Damaged when the boxes cannot
    be read."""
    boxes = location_boxes(f, size)
    for start, end in boxes:
        f.seek(start)
        size_field = struct.unpack(">I", f.read(4))[0]
        header = 16 if size_field == 1 else 8  # keep the size (and a 64-bit size) as it is
        f.seek(start + 4)
        f.write(FREE)
        f.seek(start + header)
        remaining = end - start - header
        while remaining > 0:
            chunk = min(remaining, 1024 * 1024)
            f.write(b"\0" * chunk)
            remaining -= chunk
    return len(boxes)
