"""Videos lose the place they were shot before they are stored, as photos do: the boxes that
hold it become ``free`` boxes of the same size, so the file plays as before (no re-encoding,
every offset unchanged). The boxes are read back here by a parser of the test's own."""

import hashlib
import io
import struct

from helpers import fetch_served

EIFFEL = b"+48.8577+002.2950/"
LOUVRE = b"+48.8606+002.3376+035.000/"
TOWER = b"+48.8584+002.2945/"
COORDINATES = (b"48.8577", b"002.2950", b"48.8606", b"002.3376", b"48.8584", b"002.2945", b"52,22.0N")
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"ilst", b"dinf"}


def box(kind, *parts):
    body = b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + kind + body


def full_box(kind, *parts, version=0, flags=0):
    return box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def data_item(kind, value):
    """An ilst item: its name (or key index), holding a UTF-8 ``data`` box."""
    return box(kind, box(b"data", struct.pack(">II", 1, 0), value))


def quicktime_string(value):
    """A QuickTime user-data text: length, language (15f7: undetermined), the text."""
    return struct.pack(">HH", len(value), 0x15C7) + value


def handler(kind):
    return full_box(b"hdlr", struct.pack(">I", 0), kind, b"\0" * 12, b"\0")


def video(payload=bytes(range(256)) * 16):
    """An MP4 as a phone writes it: ftyp, then moov (before the media, for streaming) with one
    video track whose chunk offset (stco) points into mdat, and the place it was shot four ways:
    moov/udta/©xyz, Apple's keys (ISO 6709) in moov/meta, ©xyz in an iTunes-style udta/meta/ilst
    and in the track's udta, and XMP with GPS; besides, metadata that must stay (make, title)."""
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")
    mvhd = full_box(b"mvhd", struct.pack(">IIII", 0, 0, 1000, 1000), struct.pack(">IH", 0x10000, 0x100),
                    b"\0" * 10, b"\0" * 36, b"\0" * 24, struct.pack(">I", 2))
    keys = [b"com.apple.quicktime.make", b"com.apple.quicktime.location.ISO6709"]
    apple_meta = box(b"meta", handler(b"mdta"),  # QuickTime's own meta: no version and flags
                     full_box(b"keys", struct.pack(">I", len(keys)),
                              *[struct.pack(">I", 8 + len(k)) + b"mdta" + k for k in keys]),
                     box(b"ilst", data_item(struct.pack(">I", 1), b"Apple"), data_item(struct.pack(">I", 2), LOUVRE)))
    itunes_meta = full_box(b"meta", handler(b"mdir"),  # the MP4 full box
                           box(b"ilst", data_item(b"\xa9nam", b"Trip to Paris"), data_item(b"\xa9xyz", EIFFEL)))
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,22.0N"/></rdf:RDF>'
           b"</x:xmpmeta>")
    udta = box(b"udta", box(b"\xa9xyz", quicktime_string(EIFFEL)), itunes_meta, box(b"XMP_", xmp), b"\0" * 4)

    def trak(chunk_offset):
        stbl = box(b"stbl", full_box(b"stsd", struct.pack(">I", 0)), full_box(b"stts", struct.pack(">I", 0)),
                   full_box(b"stsc", struct.pack(">I", 0)), full_box(b"stsz", struct.pack(">II", 0, 0)),
                   full_box(b"stco", struct.pack(">II", 1, chunk_offset)))
        minf = box(b"minf", full_box(b"vmhd", b"\0" * 8, flags=1),
                   box(b"dinf", full_box(b"dref", struct.pack(">I", 1), full_box(b"url ", flags=1))), stbl)
        mdia = box(b"mdia", full_box(b"mdhd", struct.pack(">IIIIHH", 0, 0, 1000, 1000, 0x55C4, 0)),
                   handler(b"vide"), minf)
        tkhd = full_box(b"tkhd", struct.pack(">IIIII", 0, 0, 1, 0, 1000), b"\0" * 60, flags=3)
        return box(b"trak", tkhd, mdia, box(b"udta", box(b"\xa9xyz", quicktime_string(TOWER))))

    moov_size = len(box(b"moov", mvhd, trak(0), apple_meta, udta))
    payload_at = len(ftyp) + moov_size + 8
    moov = box(b"moov", mvhd, trak(payload_at), apple_meta, udta)
    return ftyp + moov + box(b"mdat", payload), payload_at, payload


def parse(data, start=0, end=None, inside=None):
    """The box tree: [(type, start, end, children)]; an AssertionError where a box does not fit."""
    end = len(data) if end is None else end
    boxes, offset = [], start
    while end - offset >= 8:
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        assert 8 <= size <= end - offset, (kind, offset, size, inside)
        body = offset + 8
        if kind == b"meta" and data[body + 4:body + 8] != b"hdlr":
            body += 4  # a full box: version and flags first
        children = parse(data, body, offset + size, kind) if kind in CONTAINERS | {b"meta"} else []
        if inside == b"ilst" and kind != b"free":
            children = parse(data, body, offset + size, kind)  # an item holds its data box
        boxes.append((kind, offset, offset + size, children))
        offset += size
    assert end - offset in (0, 4) and not data[offset:end].strip(b"\0"), (inside, offset, end)  # udta's 4 zeros
    return boxes


def find(tree, *path):
    """Every box at ``path`` (types, outermost first) in ``tree``."""
    found = [b for b in tree if b[0] == path[0]]
    return found if len(path) == 1 else [x for b in found for x in find(b[3], *path[1:])]


def upload(client, data, name="trip.mp4"):
    return client.post("/api/attachment", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_a_videos_location_is_removed_and_it_stays_the_same_mp4(client):
    original, payload_at, payload = video()
    assert all(c in original for c in COORDINATES)  # the test video does carry them, each way
    before = parse(original)

    response = upload(client, original)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["content_type"] == "video/mp4"
    status, stored, _headers = fetch_served(client, body["url"])
    assert status == 200

    for coordinate in COORDINATES:
        assert coordinate not in stored, coordinate
    assert b"GPSLatitude" not in stored
    # The same file otherwise: its size, its boxes where they were, its media and the offset into it.
    assert len(stored) == len(original) == body["size_bytes"]
    assert body["sha256"] == hashlib.sha256(stored).hexdigest()
    after = parse(stored)
    assert [(b[0], b[1], b[2]) for b in after] == [(b[0], b[1], b[2]) for b in before]
    assert [b[0] for b in after] == [b"ftyp", b"moov", b"mdat"]
    ftyp, _, mdat = after
    assert stored[ftyp[1]:ftyp[2]] == original[ftyp[1]:ftyp[2]]
    assert stored[mdat[1] + 8:mdat[2]] == payload
    [stco] = find(after, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco")
    assert struct.unpack(">I", stored[stco[2] - 4:stco[2]])[0] == payload_at == mdat[1] + 8
    # Each location box is now a free box of the size it had; everything else is as it was.
    freed = {(b[1], b[2]) for b in find(after, b"moov", b"udta", b"free")}
    assert freed == {(b[1], b[2]) for b in find(before, b"moov", b"udta", b"\xa9xyz")} | \
        {(b[1], b[2]) for b in find(before, b"moov", b"udta", b"XMP_")}
    assert [(b[1], b[2]) for b in find(after, b"moov", b"trak", b"udta", b"free")] == \
        [(b[1], b[2]) for b in find(before, b"moov", b"trak", b"udta", b"\xa9xyz")]
    [apple_items] = [b[3] for b in find(after, b"moov", b"meta", b"ilst")]
    assert [b[0] for b in apple_items] == [struct.pack(">I", 1), b"free"]
    [itunes_items] = [b[3] for b in find(after, b"moov", b"udta", b"meta", b"ilst")]
    assert [b[0] for b in itunes_items] == [b"\xa9nam", b"free"]
    assert b"Apple" in stored and b"Trip to Paris" in stored and b"com.apple.quicktime.make" in stored
    changed = [i for i in range(len(stored)) if stored[i] != original[i]]
    assert changed and all(any(s <= i < e for s, e in freed | {(b[1], b[2]) for b in apple_items + itunes_items}
                               | {(b[1], b[2]) for b in find(after, b"moov", b"trak", b"udta", b"free")})
                           for i in changed)
    # Without a location, nothing is touched: the same boxes, their place names a comment.
    plain = original.replace(b"\xa9xyz", b"\xa9cmt").replace(b"location", b"locatiox").replace(b"GPS", b"gps")
    kept = upload(client, plain, "plain.mp4").json
    assert fetch_served(client, kept["url"])[1] == plain and kept["sha256"] == hashlib.sha256(plain).hexdigest()


def test_a_video_whose_boxes_do_not_fit_is_refused(client):
    original, _, _ = video()
    udta = original.rindex(b"udta") - 4
    # The movie's user data claims to run past the movie: where its location is cannot be told.
    broken = original[:udta] + struct.pack(">I", 1 << 20) + original[udta + 4:]
    response = upload(client, broken)
    assert response.status_code == 422
    assert "could not be read" in response.json["errors"]["file"][0]
