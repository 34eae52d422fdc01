# The frame reassembler: compiled twin of pantheon._frame_py, whose FrameDecoder docstring is
# the contract (read order, reactions, dead after an error, memory). Same results, same errors:
# the constructor's checks and the error values are that module's, called from here.
#
# Included at the end of _wire.pyx, so it shares that module's namespace: HEADER_SIZE and the
# header field offsets, _get_u32le, _put_u32le, _command_field_valid, _dsha256_view.
#
# The buffer is asyncpg ReadBuffer's: the first chunk as typed fields (_buf0, _ptr0, _pos0,
# _len0), the rest in a deque, a running total. A frame inside the first chunk is read through
# _ptr0; only a header or payload spanning chunks is copied out, once.

cimport cython
from cpython.bytes cimport PyBytes_CheckExact, PyBytes_GET_SIZE
from cpython.object cimport PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_DecodeASCII, PyUnicode_DecodeLatin1
from libc.string cimport memchr, memcmp

from collections import deque as _deque

from pantheon import _frame_py
from pantheon import frames as _frames
from pantheon.frames import Frame


cdef extern from "Python.h":
    # A type's tp_alloc slot: for a tuple subclass it allocates n item slots (NULL) and
    # GC-tracks the object, exactly as tuple.__new__ does for a subclass before filling it.
    ctypedef object (*_allocfunc)(PyTypeObject *, Py_ssize_t)
    ctypedef struct _TypeWithAlloc "PyTypeObject":
        _allocfunc tp_alloc


cdef enum:
    _SCRATCH = 32  # bytes: room for a header copied out of several chunks, or for a magic
    _COMMAND_CACHE = 16  # valid command fields remembered per decoder (direct-mapped)

cdef Py_ssize_t MAGIC_SIZE = sizeof(uint32_t)
if HEADER_SIZE > _SCRATCH:
    raise RuntimeError(f"limits.HEADER_SIZE {HEADER_SIZE} exceeds the {_SCRATCH}-byte scratch buffer")

# Frame is built by filling a tuple of its type in place: it must stay a plain tuple subclass
# (no instance dict) whose fields are in this order.
cdef tuple _FRAME_FIELDS = ("command", "payload", "checksum_ok", "error", "wire_size", "received_checksum")
if not (issubclass(Frame, tuple) and Frame.__basicsize__ == tuple.__basicsize__
        and Frame.__itemsize__ == tuple.__itemsize__ and Frame._fields == _FRAME_FIELDS):
    raise RuntimeError(f"pantheon.frames.Frame must be a tuple subclass with fields {_FRAME_FIELDS}")
cdef object _FRAME_TYPE = Frame
cdef object _BAD_CHECKSUM = _frames.BAD_CHECKSUM
cdef object _BAD_COMMAND = _frames.BAD_COMMAND


cdef inline object _new_frame(object command, bytes payload, bint checksum_ok, object error,
                              Py_ssize_t wire_size, object received_checksum):
    cdef PyTypeObject *frame_type = <PyTypeObject *>_FRAME_TYPE
    cdef object frame = (<_TypeWithAlloc *>frame_type).tp_alloc(frame_type, 6)
    cdef object ok = checksum_ok
    cdef object size = wire_size
    # PyTuple_SET_ITEM steals a reference: give it one for each item.
    Py_INCREF(command)
    PyTuple_SET_ITEM(frame, 0, command)
    Py_INCREF(payload)
    PyTuple_SET_ITEM(frame, 1, payload)
    Py_INCREF(ok)
    PyTuple_SET_ITEM(frame, 2, ok)
    Py_INCREF(error)
    PyTuple_SET_ITEM(frame, 3, error)
    Py_INCREF(size)
    PyTuple_SET_ITEM(frame, 4, size)
    Py_INCREF(received_checksum)
    PyTuple_SET_ITEM(frame, 5, received_checksum)
    return frame


cdef inline Py_ssize_t _command_slot(const unsigned char *field) noexcept nogil:
    cdef size_t h = 0
    cdef Py_ssize_t i
    for i in range(COMMAND_SIZE):
        h = h * 31 + field[i]
    return <Py_ssize_t>(h % _COMMAND_CACHE)


@cython.final
@cython.auto_pickle(False)
cdef class FrameDecoder:
    """FrameDecoder(magic, max_payload=limits.MAX_MESSAGE_SIZE, caps=None, *, resync=False)

    Reassembles one peer's byte stream into `Frame`s: feed(data), then next_frame() or iterate.
    Compiled twin of pantheon._frame_py.FrameDecoder; its docstring documents the API, the
    read order, the reaction table (BadMagic and OversizedMessage: disconnect; BAD_CHECKSUM
    and BAD_COMMAND frames: drop, keep the peer; unknown commands: delivered) and the rule
    that after an exception the decoder is dead and raises it again on every call.
    """

    cdef readonly uint32_t magic
    cdef readonly Py_ssize_t max_payload
    cdef readonly bint resync
    cdef readonly Py_ssize_t discarded
    cdef dict _caps
    cdef unsigned char _magic_bytes[_SCRATCH]
    # The buffer: the first chunk, a cursor into it, the other chunks, all bytes after the cursor.
    cdef bytes _buf0
    cdef const unsigned char *_ptr0
    cdef Py_ssize_t _pos0
    cdef Py_ssize_t _len0
    cdef object _chunks
    cdef Py_ssize_t _length
    # The frame in progress, once its header is in (the header stays in the buffer).
    cdef bint _have_header
    cdef object _command
    cdef bint _command_ok
    cdef Py_ssize_t _payload_len
    cdef Py_ssize_t _need  # with a header in: the frame's size, so waiting for it is one compare
    cdef unsigned char _checksum[SHA256_DIGEST_LENGTH]
    cdef bint _syncing
    cdef object _error
    # Valid command fields seen, with their names and caps: no str or dict lookup per frame.
    cdef list _names
    cdef unsigned char _fields[_COMMAND_CACHE][_SCRATCH]
    cdef Py_ssize_t _field_caps[_COMMAND_CACHE]

    def __cinit__(self, *args, **kwargs):
        self._caps = {}
        self._chunks = _deque()
        self._names = [None] * _COMMAND_CACHE

    def __init__(self, magic, max_payload=_limits.MAX_MESSAGE_SIZE, caps=None, *, resync=False):
        magic, max_payload, self._caps = _frame_py._settings(magic, max_payload, caps)
        self.magic = magic
        self.max_payload = max_payload
        self.resync = resync
        _put_u32le(<char *>self._magic_bytes, self.magic)
        self._clear()
        self.discarded = 0
        self._syncing = False
        self._error = None
        self._names[:] = [None] * _COMMAND_CACHE

    @property
    def buffered(self):
        """Bytes held and not yet taken out as a frame or discarded."""
        return self._length

    def feed(self, data):
        """Append `data` (any C-contiguous buffer) to the stream; frames are taken out later."""
        cdef Py_buffer view
        cdef bytes chunk
        if self._error is not None:
            raise self._error.with_traceback(None)
        if PyBytes_CheckExact(data):
            chunk = <bytes>data
        else:  # copied: the caller may reuse its buffer
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
            try:
                chunk = PyBytes_FromStringAndSize(<char *>view.buf, view.len)
            finally:
                PyBuffer_Release(&view)
        if PyBytes_GET_SIZE(chunk) == 0:
            return
        if self._buf0 is None:
            self._set_first(chunk)
        else:
            self._chunks.append(chunk)
        self._length += PyBytes_GET_SIZE(chunk)

    def __iter__(self):
        return self

    def __next__(self):
        frame = self._take()
        if frame is None:
            raise StopIteration
        return frame

    def next_frame(self):
        """The next complete frame, or None until more bytes are fed."""
        return self._take()

    cdef object _take(self):
        cdef unsigned char scratch[_SCRATCH]
        cdef unsigned char digest[SHA256_DIGEST_LENGTH]
        cdef const unsigned char *p
        cdef Py_ssize_t size, end
        cdef uint32_t got
        cdef bytes payload
        cdef Py_buffer view
        cdef bint checksum_ok
        if self._error is not None:
            raise self._error.with_traceback(None)
        if self._length < self._need:
            return None
        while True:
            if not self._have_header:
                if self._length < MAGIC_SIZE:
                    # Resync drops what cannot begin the magic even before 4 bytes are in, so
                    # where it stops does not depend on how the stream was cut.
                    if self.resync and self._length:
                        self._copy_out(0, self._length, scratch)
                        if memcmp(scratch, self._magic_bytes, self._length) != 0:
                            self._syncing = True
                            self._scan()
                    return None
                if self._len0 - self._pos0 >= HEADER_SIZE:
                    p = self._ptr0 + self._pos0
                else:  # the header spans chunks: copy its bytes out
                    self._copy_out(0, min(self._length, HEADER_SIZE), scratch)
                    p = scratch
                got = _get_u32le(p)
                if got != self.magic:
                    if not self.resync:
                        raise self._fail(_frame_py._bad_magic(got, self.magic))
                    self._syncing = True
                    if not self._scan():
                        return None
                    continue
                if self._length < HEADER_SIZE:
                    return None
                if not self._read_header(p):
                    continue
            size = self._payload_len
            end = HEADER_SIZE + size
            if self._length < end:
                return None
            if self._len0 - self._pos0 >= end:
                payload = PyBytes_FromStringAndSize(<const char *>self._ptr0 + self._pos0 + HEADER_SIZE, size)
            else:
                payload = self._gather(HEADER_SIZE, size)
            view.buf = PyBytes_AS_STRING(payload)
            view.len = size
            _dsha256_view(&view, digest)
            checksum_ok = memcmp(digest, self._checksum, CHECKSUM_SIZE) == 0
            self._have_header = False
            self._need = 0
            if self._syncing:
                if not checksum_ok:
                    self._discard(1)
                    continue
                self._syncing = False
            self._consume(end)
            if not checksum_ok:
                return _new_frame(self._command, payload, False, _BAD_CHECKSUM, end,
                                  PyBytes_FromStringAndSize(<const char *>self._checksum, CHECKSUM_SIZE))
            return _new_frame(self._command, payload, True, None if self._command_ok else _BAD_COMMAND, end, None)

    @cython.boundscheck(False)  # slot < _COMMAND_CACHE == len(self._names)
    @cython.wraparound(False)
    cdef bint _read_header(self, const unsigned char *p) except -1:
        """Take the header at the cursor (its magic matched) as the frame in progress; False
        when resync found it to be a false sync (one byte is then discarded)."""
        cdef const unsigned char *field = p + COMMAND_OFFSET
        cdef Py_ssize_t size = _get_u32le(p + LENGTH_OFFSET)
        cdef Py_ssize_t slot = _command_slot(field)
        cdef Py_ssize_t cap, n = 0
        cdef bint command_ok = True
        command = self._names[slot]
        if command is not None and memcmp(self._fields[slot], field, COMMAND_SIZE) == 0:
            cap = self._field_caps[slot]
        elif _command_field_valid(field, COMMAND_SIZE):
            while n < COMMAND_SIZE and field[n] != 0:
                n += 1
            command = PyUnicode_DecodeASCII(<const char *>field, n, NULL)
            cap = self._caps.get(command, self.max_payload)
            self._names[slot] = command
            memcpy(self._fields[slot], field, COMMAND_SIZE)
            self._field_caps[slot] = cap
        else:  # the raw field without its trailing NULs, one character per byte
            n = COMMAND_SIZE
            while n and field[n - 1] == 0:
                n -= 1
            command = PyUnicode_DecodeLatin1(<const char *>field, n, NULL)
            cap = self.max_payload
            command_ok = False
        if self._syncing and (not command_ok or size > cap):
            self._discard(1)
            return False
        if size > cap:
            raise self._fail(_frame_py._oversized(command, size, cap))
        memcpy(self._checksum, p + CHECKSUM_OFFSET, CHECKSUM_SIZE)
        self._command = command
        self._command_ok = command_ok
        self._payload_len = size
        self._need = HEADER_SIZE + size
        self._have_header = True
        return True

    cdef bint _scan(self) except -1:
        """Resync: discard up to the first position holding the magic (True) or, at the end of
        the buffer, a proper prefix of it (False: wait for more bytes)."""
        cdef unsigned char head[_SCRATCH]
        cdef const unsigned char *start
        cdef const unsigned char *hit
        cdef Py_ssize_t n
        while self._length:
            start = self._ptr0 + self._pos0
            hit = <const unsigned char *>memchr(start, self._magic_bytes[0], self._len0 - self._pos0)
            if hit == NULL:
                self._discard(self._len0 - self._pos0)
                continue
            if hit != start:
                self._discard(hit - start)
            n = min(self._length, MAGIC_SIZE)
            self._copy_out(0, n, head)
            if memcmp(head, self._magic_bytes, n) == 0:
                return n == MAGIC_SIZE
            self._discard(1)
        return False

    cdef int _copy_out(self, Py_ssize_t offset, Py_ssize_t size, unsigned char *out) except -1:
        """Copy `size` bytes from `offset` past the cursor (they must be buffered) into `out`."""
        cdef Py_ssize_t length, take
        cdef Py_ssize_t skip = self._pos0 + offset
        cdef bytes chunk
        if skip < self._len0:
            take = min(self._len0 - skip, size)
            memcpy(out, self._ptr0 + skip, take)
            out += take
            size -= take
            skip = 0
        else:
            skip -= self._len0
        for chunk in self._chunks:
            if size == 0:
                break
            length = PyBytes_GET_SIZE(chunk)
            if skip >= length:
                skip -= length
                continue
            take = min(length - skip, size)
            memcpy(out, PyBytes_AS_STRING(chunk) + skip, take)
            out += take
            size -= take
            skip = 0
        return 0

    cdef bytes _gather(self, Py_ssize_t offset, Py_ssize_t size):
        """`size` bytes from `offset` past the cursor, joined once across chunks."""
        cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
        self._copy_out(offset, size, <unsigned char *>PyBytes_AS_STRING(out))
        return out

    cdef int _set_first(self, bytes chunk) except -1:
        self._buf0 = chunk
        self._ptr0 = <const unsigned char *>PyBytes_AS_STRING(chunk)
        self._pos0 = 0
        self._len0 = PyBytes_GET_SIZE(chunk)
        return 0

    cdef int _consume(self, Py_ssize_t size) except -1:
        """Move the cursor `size` bytes on, dropping spent chunks."""
        self._length -= size
        size += self._pos0
        while self._buf0 is not None and size >= self._len0:
            size -= self._len0
            if self._chunks:
                self._set_first(self._chunks.popleft())
            else:
                self._buf0 = None
                self._ptr0 = NULL
                self._len0 = 0
        self._pos0 = size
        return 0

    cdef int _discard(self, Py_ssize_t size) except -1:
        self.discarded += size
        return self._consume(size)

    cdef int _clear(self) except -1:
        self._buf0 = None
        self._ptr0 = NULL
        self._pos0 = self._len0 = self._length = self._need = 0
        self._chunks.clear()
        self._have_header = False
        self._command = None
        return 0

    cdef object _fail(self, error):
        """Make the decoder dead: keep `error` to raise again, drop the buffer."""
        self._error = error
        self._clear()
        return error
