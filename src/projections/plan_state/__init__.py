"""Plan state: one row per trajectory with its current state, and the columns the board filters on.

This package owns ``rm_trajectories`` and ``rm_trajectory_parties`` (the organisation index):
no module outside it names them in SQL.

- ``projection``: the tables' DDL and the writer (``PlanStateProjection``).
- ``sealed``: the sealed ``state`` and ``doc`` columns, and opening a stored document.
- ``queries``: what the API asks (``PlanStateQueries``): the document with the access facts,
  the access facts alone, a client's regions, a region's clients, the clients due for erasure.
- ``board`` and ``listing``: the SQL of the coordinators' board and of the trajectory list,
  over the trajectories in a ``scope`` (an organisation's, a region's, a sector's). The board
  reads the components of "stuck" copied beside each scope (``projection.BOARD_COLUMNS``, on
  the parties table per organisation and on the trajectory's row per region), by index.
- ``standby``: the board and the list read on a hot standby, each row kept only if the primary
  puts it in the caller's scope now (``scope.among``, asked by the page's ids).

The projection folds events with the domain's own ``apply`` methods (the same code the write
side runs), keeping each trajectory's aggregate state as JSON in the row. So the read model
cannot drift from the record's rules, and the version check of ``mutate`` proves no event was
skipped or applied twice. The row also holds the rendered document (``doc``) that
``GET /v1/trajectories/{id}`` answers with.

Both hold the trajectory's free text (the question, goals, agreements, reasons…), so both are
sealed under the trajectory's own key, as its events are (issue #10): a read-model file, its
write-ahead log or a dump shows no personal data, and erasing the client leaves them unreadable
even before the projection rewrites them. The projection opens ``state`` when it folds the next
events; the API opens ``doc`` when it answers. A row of an erased client holds placeholders only
and is stored as it is, marked ``erased``. The other columns hold structured facts (status,
dates, organisations, reason categories, deadline rules) that the board filters and sorts on.
"""
