#!/usr/bin/env python3
"""An IMAP proxy in front of the test bed's Dovecot that truly LACKS some capabilities.

    python3 integration/refusing-proxy.py --target-port 10143 --refuse MOVE
    python3 integration/refusing-proxy.py --target-port 10143 --refuse SORT,ESORT,THREAD,CONDSTORE,QRESYNC

Prints the port it listens on (127.0.0.1, chosen by the system) as its first line, then relays
every client connection to the plain (non-TLS) port of the IMAP server. Dovecot's
`imap_capability` setting only hides a capability: a client that sends `UID MOVE` anyway still
gets it done. Behind this proxy the refused capabilities are really gone:

* they are removed from `* CAPABILITY` responses and `[CAPABILITY ...]` codes (greeting, after
  LOGIN/AUTHENTICATE), with their `NAME=...` variants (`--refuse THREAD` removes every
  `THREAD=...`, `SORT` removes `SORT=DISPLAY`) and what depends on them (see IMPLIED);
  STARTTLS and COMPRESS are always removed (the proxy reads plaintext only);
* a command that needs a refused capability is answered `<tag> BAD ...` by the proxy and never
  reaches the server: SORT/THREAD (also UID ...), SEARCH/SORT with RETURN (ESEARCH/ESORT),
  SEARCH with RETURN (SAVE) and any command acting on `$` (SEARCHRES),
  SELECT/EXAMINE with (CONDSTORE) or (QRESYNC ...), FETCH with MODSEQ or (CHANGEDSINCE n)
  / VANISHED, STORE with (UNCHANGEDSINCE n), STATUS with HIGHESTMODSEQ, SEARCH/SORT on MODSEQ,
  MOVE/UID MOVE, UID EXPUNGE (UIDPLUS), LIST with RETURN (SPECIAL-USE) / (STATUS ...) /
  selection options, CREATE ... (USE ...), AUTHENTICATE with an initial response (SASL-IR),
  `{n+}` literals (LITERAL+), and any command named like a refused capability (IDLE,
  UNSELECT, NAMESPACE, ID, ENABLE, ...). Its BAD is sent after the answers to the commands
  the client sent before it, as a server would;
* ENABLE of a refused capability is answered as a server that does not know it: the refused
  names are taken out of the command (`* ENABLED` without them + OK, answered by the proxy
  when nothing else is left);
* what the refused capabilities would put in responses is removed, so the client sees one
  consistent poorer server: `[HIGHESTMODSEQ n]`, `[NOMODSEQ]`, `[MODIFIED ...]`, `MODSEQ (n)`
  in FETCH (CONDSTORE); `[CLOSED]` (QRESYNC); `[COPYUID ...]`, `[APPENDUID ...]`,
  `[UIDNOTSTICKY]` (UIDPLUS); `\\All \\Archive \\Drafts \\Flagged \\Junk \\Sent \\Trash
  \\Important` in LIST/LSUB (SPECIAL-USE). An untagged `* OK/NO [code]` made only of such a
  code is dropped; on other status responses only the code goes.

Everything else passes byte for byte, literals included: commands and responses are framed
line by line with their `{n}` / `{n+}` / `~{n}` literals, and only the text lines are looked at.
A command is read whole before it is judged; for a synchronising literal the proxy itself
answers the client's `+` (unless the command is already refused), and feeds the server one
piece at a time, waiting for (and swallowing) the server's own `+`. AUTHENTICATE and IDLE
exchanges are relayed raw until they end. Stdlib only; loopback only; plaintext only.

`--log FILE` appends one line per refused or rewritten command and per stripped response part,
and, as each connection closes, how many commands of each name it carried (what the client tried).
`--forward-refused` (for tests of the response filter only) passes refused commands on instead.
Ends on SIGTERM or when stdin closes (so it never outlives the test that started it).
"""
import argparse
import collections
import os
import re
import signal
import socket
import sys
import threading
import traceback

MAX_LINE = 1 << 20  # longest text line accepted from either side
CHUNK = 1 << 18

# Capabilities that cannot exist without another one: refusing the key refuses these too.
IMPLIED = {
    "SORT": {"ESORT", "CONTEXT=SORT"},
    "CONDSTORE": {"QRESYNC"},
    "ENABLE": {"QRESYNC", "UTF8=ACCEPT"},
    "ESEARCH": {"CONTEXT=SEARCH", "CONTEXT=SORT", "SEARCHRES"},
    "LIST-EXTENDED": {"LIST-STATUS"},
    "LITERAL+": {"LITERAL-"},
    "SPECIAL-USE": {"CREATE-SPECIAL-USE"},
}
ALWAYS_REFUSED = {"STARTTLS", "COMPRESS"}  # the proxy cannot read TLS or compressed streams

# Commands named after (or belonging to) a capability.
COMMAND_CAPABILITY = {
    "MOVE": "MOVE",
    "SORT": "SORT",
    "THREAD": "THREAD",
    "IDLE": "IDLE",
    "UNSELECT": "UNSELECT",
    "NAMESPACE": "NAMESPACE",
    "ID": "ID",
    "ENABLE": "ENABLE",
    "GETQUOTA": "QUOTA",
    "GETQUOTAROOT": "QUOTA",
    "SETQUOTA": "QUOTA",
    "GETACL": "ACL",
    "SETACL": "ACL",
    "DELETEACL": "ACL",
    "LISTRIGHTS": "ACL",
    "MYRIGHTS": "ACL",
    "GETMETADATA": "METADATA",
    "SETMETADATA": "METADATA",
    "NOTIFY": "NOTIFY",
    "STARTTLS": "STARTTLS",
    "COMPRESS": "COMPRESS",
}

SPECIAL_USE_ATTRIBUTES = {b"\\all", b"\\archive", b"\\drafts", b"\\flagged", b"\\junk", b"\\sent", b"\\trash", b"\\important"}

CLIENT_LITERAL = re.compile(rb"(~?)\{(\d+)(\+|-)?\}$")
SERVER_LITERAL = re.compile(rb"~?\{(\d+)\}$")
MODSEQ_ITEM = re.compile(rb"MODSEQ \(\d+\)", re.IGNORECASE)


class Refusals:
    """The refused capability names (upper case), closed over IMPLIED."""

    def __init__(self, names):
        refused = {n.strip().upper() for n in names if n.strip()} | ALWAYS_REFUSED
        changed = True
        while changed:
            changed = False
            for key, implied in IMPLIED.items():
                if key in refused and not implied <= refused:
                    refused |= implied
                    changed = True
        self.names = refused

    def __contains__(self, name):
        return name.upper() in self.names

    def capability(self, cap):
        """True when a capability atom (`THREAD=REFERENCES`, `AUTH=PLAIN`, `MOVE`) is refused."""
        c = cap.upper()
        return c in self.names or c.split("=", 1)[0] in self.names


# --- framing -------------------------------------------------------------------------------


class Reader:
    """Buffered reads of CRLF lines and exact octet counts from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0

    def _fill(self):
        if self.pos > 0 and self.pos >= len(self.buf) // 2:
            del self.buf[: self.pos]
            self.pos = 0
        data = self.sock.recv(CHUNK)
        if not data:
            raise EOFError
        self.buf += data

    def line(self):
        """One line including its CRLF."""
        scanned = 0  # octets after pos already searched without a CRLF
        while True:
            i = self.buf.find(b"\r\n", self.pos + scanned)
            if i >= 0:
                out = bytes(self.buf[self.pos : i + 2])
                self.pos = i + 2
                return out
            scanned = max(0, len(self.buf) - self.pos - 1)
            if scanned > MAX_LINE:
                raise EOFError  # a line this long is not IMAP: give up on the connection
            self._fill()

    def exact(self, n):
        while len(self.buf) - self.pos < n:
            self._fill()
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out


def read_response(reader):
    """A whole server response: [line, literal, line, literal, ..., line] (lines with CRLF)."""
    parts = [reader.line()]
    while True:
        m = SERVER_LITERAL.search(parts[-1], 0, len(parts[-1]) - 2)
        if not m or parts[-1].startswith(b"+"):
            return parts
        parts.append(reader.exact(int(m.group(1))))
        parts.append(reader.line())


# --- a small tokenizer for judging commands ----------------------------------------------------


class Quoted(str):
    """A string argument (quoted or literal), never taken for an atom."""


def tokenize(text):
    """Nested lists of atoms (str) and strings (Quoted) from a command's text; literals appear
    as empty Quoted strings. Atoms keep `[...]` sections whole (`BODY.PEEK[HEADER.FIELDS (A B)]`)."""
    root = []
    stack = [root]
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == " ":
            i += 1
        elif c == "(":
            new = []
            stack[-1].append(new)
            stack.append(new)
            i += 1
        elif c == ")":
            if len(stack) > 1:
                stack.pop()
            i += 1
        elif c == '"':
            i += 1
            value = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(text[i])
                i += 1
            i += 1
            stack[-1].append(Quoted("".join(value)))
        else:
            start = i
            depth = 0
            while i < n:
                c = text[i]
                if c == "[":
                    depth += 1
                elif c == "]":
                    depth = max(0, depth - 1)
                elif depth == 0 and c in " ()":
                    break
                i += 1
            stack[-1].append(text[start:i])
    return root


def is_atom(token, name):
    return isinstance(token, str) and not isinstance(token, Quoted) and token.upper() == name


def atoms(tokens):
    """The upper-cased atoms at the top level of a token list (or of a single atom)."""
    if isinstance(tokens, list):
        return [t.upper() for t in tokens if isinstance(t, str) and not isinstance(t, Quoted)]
    if isinstance(tokens, str) and not isinstance(tokens, Quoted):
        return [tokens.upper()]
    return []


def search_uses_modseq(tokens):
    """True when search criteria use the MODSEQ key (CONDSTORE), skipping keyword and header arguments."""
    skip = 0
    for t in tokens:
        if skip:
            skip -= 1
            continue
        if isinstance(t, list):
            if search_uses_modseq(t):
                return True
        elif not isinstance(t, Quoted):
            u = t.upper()
            if u == "MODSEQ":
                return True
            if u in ("KEYWORD", "UNKEYWORD", "CHARSET"):
                skip = 1
            elif u == "HEADER":
                skip = 2
    return False


def command_text(parts):
    """The command's lines as one text, each literal replaced by an empty string argument."""
    text = []
    for index in range(0, len(parts), 2):
        line = parts[index][:-2]
        if index + 1 < len(parts):
            m = CLIENT_LITERAL.search(line)
            line = line[: m.start()] + b'""'
        text.append(line)
    return b"".join(text).decode("latin-1")


def command_names(tokens):
    """(tag, NAME, args, uid) of a tokenized command; NAME is the word after UID for UID commands."""
    if len(tokens) < 2 or not isinstance(tokens[0], str) or not isinstance(tokens[1], str):
        return None, "", [], False
    tag, name, args = tokens[0], tokens[1].upper(), tokens[2:]
    if name == "UID" and args and isinstance(args[0], str):
        return tag, args[0].upper(), args[1:], True
    return tag, name, args, False


def refusal(tokens, refused, complete=True):
    """Why this command needs a refused capability, or None. With complete=False only the parts
    before the first literal are known: judge on the command name alone."""
    tag, name, args, uid = command_names(tokens)
    if tag is None:
        return None
    cap = COMMAND_CAPABILITY.get(name)
    if cap and refused.capability(cap):
        return cap
    if uid and name == "EXPUNGE" and "UIDPLUS" in refused:
        return "UIDPLUS"
    if name == "THREAD" and args and refused.capability("THREAD=" + str(args[0])):
        return "THREAD=" + str(args[0]).upper()
    if name == "AUTHENTICATE" and args:
        if refused.capability("AUTH=" + str(args[0])):
            return "AUTH=" + str(args[0]).upper()
        if len(args) > 1 and "SASL-IR" in refused:
            return "SASL-IR"
    if not complete:
        return None
    if "SEARCHRES" in refused and "$" in atoms(args):
        return "SEARCHRES"
    if name in ("SELECT", "EXAMINE"):
        for option in args[1:]:
            found = atoms(option)
            if "CONDSTORE" in found and "CONDSTORE" in refused:
                return "CONDSTORE"
            if "QRESYNC" in found and "QRESYNC" in refused:
                return "QRESYNC"
    elif name == "FETCH" and len(args) >= 2:
        if "MODSEQ" in atoms(args[1]) and "CONDSTORE" in refused:
            return "CONDSTORE"
        for modifier in args[2:]:
            found = atoms(modifier)
            if "CHANGEDSINCE" in found and "CONDSTORE" in refused:
                return "CONDSTORE"
            if "VANISHED" in found and "QRESYNC" in refused:
                return "QRESYNC"
    elif name == "STORE" and len(args) >= 2:
        if isinstance(args[1], list) and "UNCHANGEDSINCE" in atoms(args[1]) and "CONDSTORE" in refused:
            return "CONDSTORE"
    elif name == "STATUS" and len(args) >= 2:
        if "HIGHESTMODSEQ" in atoms(args[1]) and "CONDSTORE" in refused:
            return "CONDSTORE"
    elif name in ("SEARCH", "SORT"):
        if args and is_atom(args[0], "RETURN"):
            needed = "ESEARCH" if name == "SEARCH" else "ESORT"
            if needed in refused:
                return needed
            if name == "SEARCH" and len(args) > 1 and "SAVE" in atoms(args[1]) and "SEARCHRES" in refused:
                return "SEARCHRES"
        if "CONDSTORE" in refused and search_uses_modseq(args):
            return "CONDSTORE"
    elif name in ("LIST", "LSUB") and args:
        options = []
        if isinstance(args[0], list):
            options += atoms(args[0])
            if name == "LIST" and "LIST-EXTENDED" in refused:
                return "LIST-EXTENDED"
        returns = [i for i, t in enumerate(args) if i > 0 and is_atom(t, "RETURN") and i + 1 < len(args) and isinstance(args[i + 1], list)]
        if returns:
            returned = atoms(args[returns[0] + 1])
            if "LIST-EXTENDED" in refused:
                return "LIST-EXTENDED"
            if "STATUS" in returned and "LIST-STATUS" in refused:
                return "LIST-STATUS"
            options += returned
        if "SPECIAL-USE" in options and "SPECIAL-USE" in refused:
            return "SPECIAL-USE"
    elif name == "CREATE" and len(args) >= 2 and isinstance(args[1], list):
        if "USE" in atoms(args[1]) and ("CREATE-SPECIAL-USE" in refused or "SPECIAL-USE" in refused):
            return "CREATE-SPECIAL-USE"
    return None


# --- response filtering --------------------------------------------------------------------


def strip_fetch_modseq(parts):
    """Removes `MODSEQ (n)` at the top level of a FETCH response's attribute list."""
    depth = 0
    quoted = False
    out = list(parts)
    changed = False
    for index in range(0, len(parts), 2):
        line = parts[index]
        result = bytearray()
        i = 0
        n = len(line)
        while i < n:
            c = line[i]
            if quoted:
                if c == 0x5C and i + 1 < n:  # backslash
                    result += line[i : i + 2]
                    i += 2
                    continue
                if c == 0x22:
                    quoted = False
            elif c == 0x22:
                quoted = True
            elif c == 0x28:
                depth += 1
            elif c == 0x29:
                depth -= 1
            elif depth == 1 and c in (0x4D, 0x6D) and (i == 0 or line[i - 1] in (0x20, 0x28)):
                m = MODSEQ_ITEM.match(line, i)
                if m:
                    end = m.end()
                    if end < n and line[end] == 0x20:
                        end += 1  # "MODSEQ (n) " before another item
                    elif result.endswith(b" "):
                        del result[-1]  # " MODSEQ (n)" as the last item
                    i = end
                    changed = True
                    continue
            result.append(c)
            i += 1
        out[index] = bytes(result)
    return out if changed else parts


class ResponseFilter:
    def __init__(self, refused, log):
        self.refused = refused
        self.log = log
        codes = set()
        if "CONDSTORE" in refused:
            codes |= {b"HIGHESTMODSEQ", b"NOMODSEQ", b"MODIFIED"}
        if "QRESYNC" in refused:
            codes |= {b"CLOSED"}
        if "UIDPLUS" in refused:
            codes |= {b"COPYUID", b"APPENDUID", b"UIDNOTSTICKY"}
        self.codes = codes

    def capabilities(self, text):
        """Filters a space-separated capability list (bytes)."""
        kept = [c for c in text.split(b" ") if c and not self.refused.capability(c.decode("latin-1"))]
        return b" ".join(kept)

    def apply(self, parts):
        """The response to pass on (a list of parts), or None to drop it."""
        line = parts[0]
        if line.startswith(b"+"):
            return parts
        space = line.find(b" ")
        if space < 0:
            return parts
        tag = line[:space]
        rest = line[space + 1 :]
        word_end = rest.find(b" ")
        word = (rest[:word_end] if word_end >= 0 else rest[:-2]).upper()
        if tag == b"*":
            if word == b"CAPABILITY" and word_end >= 0:
                return [b"* " + rest[:word_end] + b" " + self.capabilities(rest[word_end + 1 : -2]) + b"\r\n"]
            if word == b"ENABLED" and word_end >= 0:
                return [b"* " + rest[:word_end] + b" " + self.capabilities(rest[word_end + 1 : -2]) + b"\r\n"]
            if word in (b"LIST", b"LSUB") and "SPECIAL-USE" in self.refused:
                return self.special_use(parts, space + 1 + word_end + 1)
            if word.isdigit() and "CONDSTORE" in self.refused and len(rest) > word_end + 6:
                if rest[word_end + 1 : word_end + 6].upper() == b"FETCH" and any(b"MODSEQ" in p.upper() for p in parts[0::2]):
                    stripped = strip_fetch_modseq(parts)
                    if stripped is not parts:
                        self.note("stripped MODSEQ from " + parts[0][:60].decode("latin-1").rstrip())
                    return stripped
        if word in (b"OK", b"NO", b"BAD", b"PREAUTH", b"BYE") and word_end >= 0 and rest[word_end + 1 : word_end + 2] == b"[":
            return self.status_code(parts, tag, word, space + 1 + word_end + 1)
        return parts

    def status_code(self, parts, tag, word, at):
        line = parts[0]
        close = line.find(b"]", at)
        if close < 0:
            return parts
        code = line[at + 1 : close]
        name = code.split(b" ", 1)[0].upper()
        if name == b"CAPABILITY":
            filtered = self.capabilities(code[len(name) + 1 :]) if b" " in code else b""
            return [line[: at + 1] + code[: len(name)] + b" " + filtered + line[close:]] + parts[1:]
        if name not in self.codes:
            return parts
        self.note("stripped [" + code[:40].decode("latin-1") + "] from " + ("untagged" if tag == b"*" else "tagged") + " " + word.decode())
        if tag == b"*" and word in (b"OK", b"NO"):
            return None  # a server without the capability sends no such response at all
        after = line[close + 1 :]
        if after.startswith(b" "):
            after = after[1:]
        if after == b"\r\n":
            after = b"completed\r\n"  # resp-text must not be empty
        return [line[:at] + after] + parts[1:]

    def special_use(self, parts, at):
        line = parts[0]
        if line[at : at + 1] != b"(":
            return parts
        close = line.find(b")", at)
        if close < 0:
            return parts
        attributes = line[at + 1 : close].split(b" ")
        kept = [a for a in attributes if a and a.lower() not in SPECIAL_USE_ATTRIBUTES]
        if len(kept) == len([a for a in attributes if a]):
            return parts
        return [line[: at + 1] + b" ".join(kept) + line[close:]] + parts[1:]

    def note(self, text):
        if self.log:
            self.log(text)


# --- one relayed connection --------------------------------------------------------------------


class Relay:
    def __init__(self, client, server, refused, log, forward_refused=False):
        self.forward_refused = forward_refused
        self.client = client
        self.server = server
        self.refused = refused
        self.log = log
        self.filter = ResponseFilter(refused, log)
        self.write_lock = threading.Lock()
        # Commands passed on, in order, and BADs of the proxy waiting for them: [kind, tag, done/bytes].
        self.pending = []
        # A command whose synchronising literal the proxy is feeding: (tag, event, outcome list).
        self.feeding = None
        self.feeding_lock = threading.Lock()
        # AUTHENTICATE / IDLE: relay the client's lines raw until this tag completes (or DONE).
        self.raw_tag = None
        self.raw_until_done = False
        self.counts = collections.Counter()  # commands by name, "refused" ones apart, for the log

    # client side ------------------------------------------------------------------------

    def send_client(self, data):
        self.client.sendall(data)

    def answer_locally(self, data):
        """Sends the proxy's own tagged answer after the answers to every command passed on before it."""
        with self.write_lock:
            if any(entry[0] == "fwd" and not entry[2] for entry in self.pending):
                self.pending.append(["local", None, data])
            else:
                self.send_client(data)

    def read_command(self, reader, first=None):
        """A whole command as ([line, literal, line, ...], None), or (parts so far, reason) when it is
        refused before the client sent a synchronising literal. Grants the client's `+` for literals."""
        parts = [first if first is not None else reader.line()]
        while True:
            m = CLIENT_LITERAL.search(parts[-1], 0, len(parts[-1]) - 2)
            if not m:
                return parts, None
            synchronising = m.group(3) is None
            if synchronising:
                tokens = tokenize(command_text(parts + [b""]))
                reason = refusal(tokens, self.refused, complete=False)
                if reason and not self.forward_refused:
                    return parts, reason  # like a server that rejects instead of sending "+"
                with self.write_lock:
                    self.send_client(b"+ Ready for literal data\r\n")
            parts.append(reader.exact(int(m.group(2))))
            parts.append(reader.line())

    def client_to_server(self):
        reader = Reader(self.client)
        try:
            while True:
                first = None
                if self.raw_tag is not None:
                    line = reader.line()
                    if self.raw_tag is not None:
                        # Part of an AUTHENTICATE or IDLE exchange, not a command.
                        self.server.sendall(line)
                        if self.raw_until_done and line.strip().upper() == b"DONE":
                            self.raw_tag = None
                        continue
                    first = line  # the exchange ended while we waited: this starts a command
                parts, early = self.read_command(reader, first)
                text = command_text(parts)
                tokens = tokenize(text)
                tag = tokens[0] if tokens and isinstance(tokens[0], str) else "*"
                reason = early or refusal(tokens, self.refused)
                if reason is None and "LITERAL+" in self.refused and any(
                    (m := CLIENT_LITERAL.search(p, 0, len(p) - 2)) and m.group(3) for p in parts[0:-1:2]
                ):
                    reason = "LITERAL+"
                _, name, args, uid = command_names(tokens)
                self.counts[("UID " if uid else "") + name + (" (refused)" if reason and not self.forward_refused else "")] += 1
                if reason and self.forward_refused:
                    self.note("passed on despite %s (--forward-refused): %s" % (reason, text[:160]))
                elif reason:
                    self.note("refused (%s): %s" % (reason, text[:160]))
                    self.answer_locally(("%s BAD Unknown command or argument (%s not supported)\r\n" % (tag, reason)).encode("latin-1"))
                    continue
                if name == "ENABLE" and not uid and not self.forward_refused:
                    asked = atoms(args)
                    kept = [a for a in asked if not self.refused.capability(a)]
                    if len(kept) != len(asked):
                        self.note("ENABLE without refused: %s -> %s" % (" ".join(asked), " ".join(kept)))
                        if not kept:
                            self.answer_locally(("* ENABLED\r\n%s OK Enabled.\r\n" % tag).encode("latin-1"))
                            continue
                        parts = [("%s ENABLE %s\r\n" % (tag, " ".join(kept))).encode("latin-1")]
                self.forward(tag, name, parts)
        except (EOFError, OSError):
            pass
        except Exception:  # a bug here: say so, and end the connection rather than relay blindly
            self.note("client side failed: " + traceback.format_exc())
            raise
        finally:
            if self.counts:
                self.note("connection closed after " + ", ".join("%s x%d" % item for item in sorted(self.counts.items())))
            try:
                self.server.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def forward(self, tag, name, parts):
        with self.write_lock:
            self.pending.append(["fwd", tag, False])
        if name in ("AUTHENTICATE", "IDLE"):
            # Relay the client's lines raw until the server completes the command (or, for IDLE,
            # until the client's DONE).
            self.raw_until_done = name == "IDLE"
            self.raw_tag = tag
        # Every piece but the last ends in a literal announcement; wait for the server's "+" after
        # synchronising ones (the client already got the proxy's).
        index = 0
        while index < len(parts):
            line = parts[index]
            if index + 1 < len(parts):
                m = CLIENT_LITERAL.search(line, 0, len(line) - 2)
                if m.group(3) is None:
                    event = threading.Event()
                    outcome = []
                    with self.feeding_lock:
                        self.feeding = (tag, event, outcome)
                    self.server.sendall(line)
                    if not event.wait(120):
                        raise EOFError
                    with self.feeding_lock:
                        self.feeding = None
                    if outcome and outcome[0] == "rejected":
                        return  # the server answered the command instead; the rest goes nowhere
                    self.server.sendall(parts[index + 1])
                else:
                    self.server.sendall(line + parts[index + 1])
                index += 2
            else:
                self.server.sendall(line)
                index += 1

    # server side ------------------------------------------------------------------------

    def server_to_client(self):
        reader = Reader(self.server)
        try:
            while True:
                parts = read_response(reader)
                first = parts[0]
                if first.startswith(b"+"):
                    with self.feeding_lock:
                        feeding = self.feeding
                    if feeding is not None:
                        feeding[2].append("continue")
                        feeding[1].set()
                        continue  # the proxy already gave the client its "+"
                tag = first.split(b" ", 1)[0].decode("latin-1")
                tagged = tag not in ("*", "+")
                if tagged:
                    with self.feeding_lock:
                        feeding = self.feeding
                    if feeding is not None and feeding[0] == tag:
                        feeding[2].append("rejected")
                        feeding[1].set()
                    if self.raw_tag == tag:
                        self.raw_tag = None
                out = self.filter.apply(parts)
                with self.write_lock:
                    if out is not None:
                        self.send_client(b"".join(out))
                    if tagged:
                        self.complete(tag)
        except (EOFError, OSError):
            pass
        except Exception:
            self.note("server side failed: " + traceback.format_exc())
            raise
        finally:
            close(self.server)
            close(self.client)

    def complete(self, tag):
        """Marks a passed-on command answered and sends the proxy's own answers now due (write lock held)."""
        for entry in self.pending:
            if entry[0] == "fwd" and not entry[2] and entry[1] == tag:
                entry[2] = True
                break
        while self.pending and (self.pending[0][0] == "local" or self.pending[0][2] is True):
            entry = self.pending.pop(0)
            if entry[0] == "local":
                self.send_client(entry[2])

    def note(self, text):
        if self.log:
            self.log(text)


def close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def handle(client, target, refused, log, forward_refused):
    try:
        server = socket.create_connection(target)
    except OSError:
        close(client)
        return
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    relay = Relay(client, server, refused, log, forward_refused)
    threading.Thread(target=relay.server_to_client, daemon=True).start()
    relay.client_to_server()


def main():
    # A parent that ignores or blocks SIGTERM (as Swift's service lifecycle does) passes that on:
    # restore it. And end when stdin closes, so the proxy never outlives the test that started it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()
    parser = argparse.ArgumentParser(description="IMAP proxy that refuses capabilities (see the module docstring)")
    parser.add_argument("--target-port", type=int, required=True, help="the IMAP server's plain port")
    parser.add_argument("--target-host", default="127.0.0.1")
    parser.add_argument("--refuse", default="", help="comma-separated capabilities, e.g. MOVE or SORT,ESORT,THREAD,CONDSTORE,QRESYNC")
    parser.add_argument("--log", help="append refused commands and stripped response parts to this file")
    parser.add_argument(
        "--forward-refused", action="store_true",
        help="pass refused commands on instead of answering BAD (tests of the response filter only: it lets "
        "the server produce what a refused capability adds, e.g. MODSEQ after FETCH MODSEQ)")
    args = parser.parse_args()
    refused = Refusals(args.refuse.split(","))
    log = None
    if args.log:
        log_lock = threading.Lock()
        log_file = open(args.log, "a", buffering=1, encoding="utf-8")

        def log(text):
            with log_lock:
                log_file.write(text + "\n")

        log("refusing " + " ".join(sorted(refused.names)))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    print(listener.getsockname()[1], flush=True)
    target = (args.target_host, args.target_port)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=handle, args=(client, target, refused, log, args.forward_refused), daemon=True).start()


if __name__ == "__main__":
    main()
