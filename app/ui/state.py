"""The page's model of its work: the queue of photos (jobs), each one's state, and the
batch's progress and time left. The page's views render it; nothing here touches the
DOM or the worker, so it is unit tested under CPython.

Pure Python, MicroPython- and CPython-compatible. Imports: nothing.

    >>> queue = Queue()
    >>> job = queue.add("cat.jpg", 2_400_000)
    >>> queue.next_waiting() is job
    True
    >>> queue.start(job.id, now=0.0); queue.finish(job.id, 1200, 800, now=6.5)
    >>> queue.summary(now=6.5)
    '1 of 1 done'
"""

WAITING = "waiting"
WORKING = "working"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)

class Job:
    """One photo the user gave: its file's name and size, and how far it got."""

    def __init__(self, id_, name, size, batch):
        self.id = id_
        self.name = name
        self.size = size            # bytes of the file
        self.batch = batch          # the user action (drop, pick, paste) that brought it
        self.state = WAITING
        self.stage = ""             # the worker's stage while WORKING
        self.error = ""             # why it FAILED
        self.downscalable = False   # FAILED only for its size, and the worker can downscale it
        self.note = ""              # how the worker read the file, when not quite as it is
        self.remark = ""            # the page's own note on it (e.g. files it left out)
        self.downscale = False      # the user agreed that it is downscaled to fit the size limit
        self.options = ""           # the edge settings (JSON) its cutout is made with
        self.history = History()    # the user's mask edits on it
        self.width = 0
        self.height = 0
        self.started = None         # seconds (the page's clock) when work began
        self.seconds = None         # how long it took, once DONE

    @property
    def finished(self):
        return self.state in FINISHED


class Queue:
    """Jobs in the order they came. One is worked on at a time (the page's runner takes
    `next_waiting`); the others wait, and any can be cancelled."""

    def __init__(self):
        self.jobs = []
        self._next_id = 0
        self.batch = 0

    # -- adding --------------------------------------------------------------
    def new_batch(self):
        """A user action that brings photos: returns its number (the jobs it adds carry it)."""
        self.batch += 1
        return self.batch

    def add(self, name, size, batch=None):
        self._next_id += 1
        job = Job(self._next_id, name, size, self.batch if batch is None else batch)
        self.jobs.append(job)
        return job

    def get(self, job_id):
        for job in self.jobs:
            if job.id == job_id:
                return job
        return None

    # -- state changes ---------------------------------------------------------
    def next_waiting(self):
        for job in self.jobs:
            if job.state == WAITING:
                return job
        return None

    def working(self):
        for job in self.jobs:
            if job.state == WORKING:
                return job
        return None

    def start(self, job_id, now):
        job = self.get(job_id)
        job.state, job.stage, job.started = WORKING, "", now
        job.error, job.downscalable = "", False

    def set_stage(self, job_id, stage):
        job = self.get(job_id)
        if job is not None and job.state == WORKING:
            job.stage = stage

    def finish(self, job_id, width, height, now, note=""):
        job = self.get(job_id)
        if job is None or job.state != WORKING:
            return
        job.state, job.stage = DONE, ""
        job.width, job.height, job.note = width, height, note
        job.seconds = now - job.started

    def fail(self, job_id, error, downscalable=False):
        job = self.get(job_id)
        if job is None or job.finished:
            return
        job.state, job.stage, job.error, job.downscalable = FAILED, "", error, downscalable

    def retry(self, job_id):
        """A failed or cancelled job waits again (e.g. the user agreed to downscale it)."""
        job = self.get(job_id)
        if job is not None and job.state in (FAILED, CANCELLED):
            job.state, job.error, job.downscalable = WAITING, "", False

    def cancel(self, job_id):
        """Cancel one job that has not finished; returns whether it was cancelled."""
        job = self.get(job_id)
        if job is None or job.finished:
            return False
        job.state, job.stage = CANCELLED, ""
        return True

    def cancel_unfinished(self):
        """Cancel every job not finished; returns their ids."""
        cancelled = [job.id for job in self.jobs if not job.finished]
        for job_id in cancelled:
            self.cancel(job_id)
        return cancelled

    def remove_finished(self, keep=None):
        """Take finished jobs off the list (all but `keep`); returns their ids."""
        gone = [job.id for job in self.jobs if job.finished and job.id != keep]
        self.jobs = [job for job in self.jobs if job.id not in gone]
        return gone

    # -- progress --------------------------------------------------------------
    def count(self, state):
        return sum(1 for job in self.jobs if job.state == state)

    def active(self):
        """Jobs that are, or will be, worked on (not cancelled)."""
        return [job for job in self.jobs if job.state != CANCELLED]

    def seconds_per_photo(self, fallback=None):
        """Mean time of the photos done so far, else `fallback` (e.g. last visit's)."""
        times = [job.seconds for job in self.jobs if job.state == DONE and job.seconds is not None]
        if times:
            return sum(times) / len(times)
        return fallback

    def seconds_left(self, now, fallback=None):
        """An estimate of the time until every waiting and working photo is done, or
        None when nothing measures it yet."""
        per_photo = self.seconds_per_photo(fallback)
        if per_photo is None:
            return None
        left = per_photo * self.count(WAITING)
        current = self.working()
        if current is not None and current.started is not None:
            left += max(per_photo - (now - current.started), 0.0)
        return left

    def summary(self, now, fallback=None):
        """`3 of 10 done · 1 failed · about 40 s left` (no time once nothing is left)."""
        total = len(self.active())
        parts = ["{} of {} done".format(self.count(DONE), total)]
        failed = self.count(FAILED)
        if failed:
            parts.append("{} failed".format(failed))
        if self.count(WAITING) or self.working() is not None:
            left = self.seconds_left(now, fallback)
            if left is not None:
                parts.append("about {} left".format(format_duration(left)))
        return " · ".join(parts)


def format_duration(seconds):
    """`5 s`, `2 min 10 s`, `1 h 3 min` (rounded up to a whole second)."""
    whole = int(seconds) + (1 if seconds > int(seconds) else 0)
    if whole < 60:
        return "{} s".format(whole)
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return "{} min {} s".format(minutes, rest) if rest else "{} min".format(minutes)
    hours, minutes = divmod(minutes, 60)
    return "{} h {} min".format(hours, minutes)


class History:
    """A photo's mask edits (dicts as `app.core.edits` reads them), with unlimited undo
    and redo; a reset is one more step, so it can be undone too."""

    def __init__(self):
        self.edits = []
        self._past = []       # earlier lists of edits, newest last
        self._future = []     # undone lists, the next redo last

    def _change(self, edits):
        self._past.append(self.edits)
        self._future = []
        self.edits = edits

    def add(self, edit):
        self._change(self.edits + [edit])

    def reset(self):
        if self.edits:
            self._change([])

    def withdraw(self):
        """Forget the last change as if it had never been made (no redo brings it back):
        for an edit that changed nothing."""
        if self._past:
            self.edits = self._past.pop()
        return self.edits

    def can_undo(self):
        return bool(self._past)

    def can_redo(self):
        return bool(self._future)

    def undo(self):
        if self._past:
            self._future.append(self.edits)
            self.edits = self._past.pop()
        return self.edits

    def redo(self):
        if self._future:
            self._past.append(self.edits)
            self.edits = self._future.pop()
        return self.edits


# Zoom steps of the editor (1 = the photo's own pixels); None is "fit the page".
ZOOMS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
VIEWS = ("cutout", "compare", "mask", "unsure")


class View:
    """How the photo on screen is looked at: which view (the cutout, before/after, the
    mask alone, the model's unsure areas), the zoom (None: fit the page), and where the
    before/after slider is (percent from the left)."""

    def __init__(self):
        self.mode = "cutout"
        self.zoom = None
        self.compare = 50

    def set_mode(self, mode):
        if mode not in VIEWS:
            raise ValueError("unknown view {!r}".format(mode))
        self.mode = mode

    def step(self, shown_scale, direction):
        """The next zoom step in `direction` (+1 in, -1 out) from the scale the photo is
        shown at now (e.g. 0.37 when fitted): the nearest step beyond it, within ZOOMS."""
        if direction > 0:
            bigger = [zoom for zoom in ZOOMS if zoom > shown_scale * 1.01]
            self.zoom = bigger[0] if bigger else ZOOMS[-1]
        else:
            smaller = [zoom for zoom in ZOOMS if zoom < shown_scale * 0.99]
            self.zoom = smaller[-1] if smaller else ZOOMS[0]
        return self.zoom
