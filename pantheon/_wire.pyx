# cython: language_level=3
"""Compiled hot path of the wire core. `pantheon._wire_py` is its twin and holds the contract
(`__all__`); both give the same results and raise the same `pantheon.errors` classes with the
same messages. The codecs of the cold commands are the twin's, re-exported here. Sizes come
from `pantheon.limits` at import; no number is retyped here.

Double-SHA256 uses OpenSSL's SHA256_Init/Update/Final (libcrypto): per call it is several times
faster than hashlib for the small payloads most messages carry.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport UINT32_MAX, uint32_t
from libc.string cimport memcpy, memset

import operator as _operator

from pantheon import errors as _errors
from pantheon import limits as _limits


cdef extern from "openssl/sha.h" nogil:
    ctypedef struct SHA256_CTX:
        pass
    enum:
        SHA256_DIGEST_LENGTH
    int SHA256_Init(SHA256_CTX *c)
    int SHA256_Update(SHA256_CTX *c, const void *data, size_t length)
    int SHA256_Final(unsigned char *md, SHA256_CTX *c)


cdef Py_ssize_t HEADER_SIZE = _limits.HEADER_SIZE
cdef Py_ssize_t COMMAND_SIZE = _limits.COMMAND_SIZE
cdef Py_ssize_t CHECKSUM_SIZE = _limits.CHECKSUM_SIZE
cdef Py_ssize_t PAYLOAD_CEILING = _limits.MAX_MESSAGE_SIZE_CEILING
# Field offsets: magic and length are uint32.
cdef Py_ssize_t COMMAND_OFFSET = sizeof(uint32_t)
cdef Py_ssize_t LENGTH_OFFSET = COMMAND_OFFSET + COMMAND_SIZE
cdef Py_ssize_t CHECKSUM_OFFSET = LENGTH_OFFSET + sizeof(uint32_t)
if CHECKSUM_OFFSET + CHECKSUM_SIZE != HEADER_SIZE or CHECKSUM_SIZE > SHA256_DIGEST_LENGTH:
    raise RuntimeError(f"header layout is {CHECKSUM_OFFSET + CHECKSUM_SIZE} bytes, "
                       f"limits.HEADER_SIZE is {HEADER_SIZE}")

# Inputs of at least this many bytes are hashed with the GIL released.
cdef Py_ssize_t NOGIL_MIN_SIZE = 4096


cdef int _dsha256(const unsigned char *buf, size_t n, unsigned char *out) noexcept nogil:
    """SHA256(SHA256(buf[:n])) into out (SHA256_DIGEST_LENGTH bytes); 0 on success."""
    return _dsha256_parts(&buf, &n, 1, out)


cdef int _dsha256_parts(const unsigned char **pieces, const size_t *sizes, int count,
                        unsigned char *out) noexcept nogil:
    """SHA256(SHA256(pieces[0][:sizes[0]] + ... )) into out, hashing the pieces in place
    (SHA256_Update over each: a segwit txid skips the witness without copying); 0 on success."""
    cdef SHA256_CTX ctx
    cdef unsigned char first[SHA256_DIGEST_LENGTH]
    cdef int i
    if SHA256_Init(&ctx) != 1:
        return -1
    for i in range(count):
        if SHA256_Update(&ctx, pieces[i], sizes[i]) != 1:
            return -1
    if SHA256_Final(first, &ctx) != 1:
        return -1
    if (SHA256_Init(&ctx) != 1 or SHA256_Update(&ctx, first, SHA256_DIGEST_LENGTH) != 1
            or SHA256_Final(out, &ctx) != 1):
        return -1
    return 0


cdef int _dsha256_view(Py_buffer *view, unsigned char *out) except -1:
    cdef int rc
    if view.len >= NOGIL_MIN_SIZE:
        with nogil:
            rc = _dsha256(<const unsigned char *>view.buf, <size_t>view.len, out)
    else:
        rc = _dsha256(<const unsigned char *>view.buf, <size_t>view.len, out)
    if rc != 0:
        raise MemoryError("OpenSSL SHA256 failed")
    return 0


cdef int _dsha256_object(object data, unsigned char *out) except -1:
    cdef Py_buffer view
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        _dsha256_view(&view, out)
    finally:
        PyBuffer_Release(&view)
    return 0


cdef inline void _put_u32le(char *p, uint32_t v) noexcept nogil:
    p[0] = <char>(v & 0xFF)
    p[1] = <char>((v >> 8) & 0xFF)
    p[2] = <char>((v >> 16) & 0xFF)
    p[3] = <char>((v >> 24) & 0xFF)


cdef inline uint32_t _get_u32le(const unsigned char *p) noexcept nogil:
    return (<uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16)
            | (<uint32_t>p[3] << 24))


cdef uint32_t _magic_value(object magic) except? 0:
    value = _operator.index(magic)
    if not 0 <= value <= UINT32_MAX:
        raise OverflowError(f"magic {value:#x} does not fit in 32 bits")
    return <uint32_t>value


cdef bytes _command_field(object command):
    if not isinstance(command, str):
        raise TypeError(f"command must be str, not {type(command).__name__}")
    if len(<str>command) > COMMAND_SIZE:
        raise _errors.BadCommand(
            f"command {command!r} is longer than the {COMMAND_SIZE}-byte command field"
        )
    cdef bytes field
    try:
        field = (<str>command).encode("ascii")
    except UnicodeEncodeError:
        raise _errors.BadCommand(f"command {command!r} is not printable ASCII") from None
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(field)
    cdef Py_ssize_t i
    for i in range(len(field)):
        if p[i] < 0x20 or p[i] > 0x7E:
            raise _errors.BadCommand(f"command {command!r} is not printable ASCII")
    return field


def double_sha256(data):
    """SHA256(SHA256(data)): 32 bytes. `data` is any C-contiguous buffer."""
    cdef unsigned char out[SHA256_DIGEST_LENGTH]
    _dsha256_object(data, out)
    return PyBytes_FromStringAndSize(<char *>out, SHA256_DIGEST_LENGTH)


def checksum(data):
    """The message checksum: the first `limits.CHECKSUM_SIZE` bytes of double_sha256(data)."""
    cdef unsigned char out[SHA256_DIGEST_LENGTH]
    _dsha256_object(data, out)
    return PyBytes_FromStringAndSize(<char *>out, CHECKSUM_SIZE)


def pack_header(magic, command, payload):
    """The 24-byte header for `payload` sent as `command` on the network with `magic`.

    Raises BadCommand for a command longer than `limits.COMMAND_SIZE` or not printable ASCII
    (0x20..0x7e), OversizedMessage for a payload over `limits.MAX_MESSAGE_SIZE_CEILING`, and
    OverflowError for a magic outside uint32.
    """
    cdef uint32_t value = _magic_value(magic)
    cdef bytes field = _command_field(command)
    cdef Py_buffer view
    cdef unsigned char digest[SHA256_DIGEST_LENGTH]
    cdef bytes out
    cdef char *p
    PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
    try:
        if view.len > PAYLOAD_CEILING:
            raise _errors.OversizedMessage(command, view.len, PAYLOAD_CEILING)
        _dsha256_view(&view, digest)
        out = PyBytes_FromStringAndSize(NULL, HEADER_SIZE)
        p = PyBytes_AS_STRING(out)
        _put_u32le(p, value)
        memset(p + COMMAND_OFFSET, 0, COMMAND_SIZE)
        memcpy(p + COMMAND_OFFSET, PyBytes_AS_STRING(field), len(field))
        _put_u32le(p + LENGTH_OFFSET, <uint32_t>view.len)
        memcpy(p + CHECKSUM_OFFSET, digest, CHECKSUM_SIZE)
    finally:
        PyBuffer_Release(&view)
    return out


cdef bint _command_field_valid(const unsigned char *p, Py_ssize_t n) noexcept nogil:
    # Core's CMessageHeader::IsMessageTypeValid: 0x20..0x7e up to the first NUL, then only NULs.
    cdef Py_ssize_t i = 0
    while i < n and p[i] != 0:
        if p[i] < 0x20 or p[i] > 0x7E:
            return False
        i += 1
    while i < n:
        if p[i] != 0:
            return False
        i += 1
    return True


def unpack_header(data, magic):
    """(command, payload length, checksum) from the first `limits.HEADER_SIZE` bytes of `data`.

    Bytes after the header (the payload, the next message) are left alone. Raises Truncated
    for fewer than `limits.HEADER_SIZE` bytes, BadMagic if the magic is not `magic`, BadCommand
    if the command field breaks Core's rule (printable ASCII, then only NULs). The length is
    returned as declared; capping it per command is the caller's job.
    """
    cdef uint32_t expected = _magic_value(magic)
    cdef Py_buffer view
    cdef const unsigned char *p
    cdef uint32_t got
    cdef Py_ssize_t name_len
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        if view.len < HEADER_SIZE:
            raise _errors.Truncated(f"message header needs {HEADER_SIZE} bytes, got {view.len}")
        p = <const unsigned char *>view.buf
        got = _get_u32le(p)
        if got != expected:
            raise _errors.BadMagic(f"magic {got:#010x}, expected {expected:#010x}")
        if not _command_field_valid(p + COMMAND_OFFSET, COMMAND_SIZE):
            field = PyBytes_FromStringAndSize(<char *>p + COMMAND_OFFSET, COMMAND_SIZE)
            raise _errors.BadCommand(
                f"command field {field!r} is not printable ASCII padded with NULs"
            )
        name_len = 0
        while name_len < COMMAND_SIZE and p[COMMAND_OFFSET + name_len] != 0:
            name_len += 1
        return (
            (<const char *>p + COMMAND_OFFSET)[:name_len].decode("ascii"),
            _get_u32le(p + LENGTH_OFFSET),
            PyBytes_FromStringAndSize(<char *>p + CHECKSUM_OFFSET, CHECKSUM_SIZE),
        )
    finally:
        PyBuffer_Release(&view)


include "_frame.pxi"
include "_codecs.pxi"
include "_siphash.pxi"
include "_invset.pxi"  # after _codecs.pxi and _siphash.pxi: it uses _inventory_span and SipHash
include "_gcs.pxi"  # after them too: CompactSize and SipHash
include "_shortids.pxi"  # after _siphash.pxi and _invset.pxi: SipHash and the hash pointer
include "_merkle.pxi"
include "_sigops.pxi"  # after _codecs.pxi: its Tx type and little-endian reader

# The cold commands' codecs are written once, in the pure twin, and re-exported by name
# (`import *` would let Cython generate setters for this module's cdef globals).
from pantheon import _cold_py
globals().update({name: getattr(_cold_py, name) for name in _cold_py.__all__})
