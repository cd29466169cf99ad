//! `crm orders create | set-status | cancel | list | show | export`: placing orders under concurrency, the lifecycle, and the rows left.
