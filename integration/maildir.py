"""What the Maildir writers of integration/ (maildir-fill.py, sort-corpus.py, thread-corpus.py,
hostile-mail.py) share. Stdlib only."""
import os


def make_dirs(path, uid, gid, chown):
    """Creates `path` and its missing parents (mode 0700, owned by uid:gid when `chown`). Another
    writer creating the same directory meanwhile is fine: tests write two folders of one user at once."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        make_dirs(parent, uid, gid, chown)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    if chown:
        os.chown(path, uid, gid)
