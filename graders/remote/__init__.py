"""The seam between the checks and a student's code when they run in different processes.

In self-study a check calls the student's function directly (``graders.core.call_student``). In cohort grading
the student's notebook runs in a sandboxed kernel that never holds the answer key, and the checks run in the
grader process; they see the student's names as proxies and every call crosses a socket as plain data:

- ``protocol``  the wire format: length-prefixed JSON plus raw array buffers, strict decoding, size limits, no
                pickle and no eval. Arrays, numbers, strings, containers, SymPy trees, and references.
- ``server``    the student side: runs inside the sandboxed kernel, looks names up in the notebook's
                namespace, calls functions on decoded arguments under a time limit, keeps non-data results as
                handles. Imports nothing from the checks or the reference library.
- ``client``    the grader side: ``Link`` and the proxies (function, class, object) the checks receive.
- ``catalogue`` test functions and runners that must execute where the student's objects live (functions of
                dual numbers, graphs for a topological sort, instrumented layer chains). No answers in it.

The student side may run only ``protocol``, ``server`` and ``catalogue`` (plus the stand-ins in ``sandbox_kernel``);
a test checks that these modules import nothing else from ``graders`` or ``reference_impl``.
"""
