//! `crm db check [--fix]`: each planted violation is found, and `--fix` repairs it.
