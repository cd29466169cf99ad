//! `crm orders report sales | products | customers`: figures against hand-computed ones on a small fixed data set.
