//! Statement parameters with the PostgreSQL type each is sent as.
//!
//! Every statement crm runs with parameters goes out as one unnamed statement: Parse, Bind,
//! Describe, Execute and Sync in one message (tokio-postgres' `query_typed`), never a named
//! prepared statement. PgBouncer in transaction mode gives each transaction, and each statement
//! outside one, whichever server connection is free, and PgBouncer 1.18 does not follow named
//! statements from one to the next: tokio-postgres' `s0`, prepared by one crm run on a server
//! connection, is "already exists" for the next run that lands there, and a statement prepared
//! in one round trip and executed in the next may reach another server that never saw it. An
//! unnamed statement lives and dies within its one message. It also saves the round trip of
//! preparing, which a pooled or distant server makes dear.
//!
//! Sending a statement in one message means naming each parameter's type in it, instead of
//! asking the server what it inferred: [`Param`] gives each Rust value its type. A label
//! ([`super::label`]) is sent untyped (OID 0), so that the server types it from the column it
//! meets, VARCHAR on crm's schema or an ENUM on the application's.

use tokio_postgres::types::{Kind, ToSql, Type};

/// A value crm binds as a statement parameter, with the type it is sent as.
pub trait Param: ToSql + Sync {
    fn sql_type(&self) -> Type;
}

/// The type a Rust type is sent as, known without a value (so that `Option<T>` has one).
pub trait SqlType {
    fn sql_type() -> Type;
}

impl<T: SqlType + ToSql + Sync> Param for T {
    fn sql_type(&self) -> Type {
        T::sql_type()
    }
}

/// No type: the server infers it from where the parameter stands, as it does for a `Parse`
/// that leaves a parameter's type out. For labels, whose bytes are the same on either type.
pub fn untyped() -> Type {
    Type::new(String::new(), 0, Kind::Simple, String::new())
}

/// Whether `ty` is [`untyped`].
pub fn is_untyped(ty: &Type) -> bool {
    ty.oid() == 0
}

macro_rules! sql_type {
    ($($rust:ty => $pg:expr),* $(,)?) => {
        $(impl SqlType for $rust {
            fn sql_type() -> Type {
                $pg
            }
        })*
    };
}

sql_type! {
    bool => Type::BOOL,
    i16 => Type::INT2,
    i32 => Type::INT4,
    i64 => Type::INT8,
    f32 => Type::FLOAT4,
    f64 => Type::FLOAT8,
    str => Type::TEXT,
    String => Type::TEXT,
    rust_decimal::Decimal => Type::NUMERIC,
    time::OffsetDateTime => Type::TIMESTAMPTZ,
    time::PrimitiveDateTime => Type::TIMESTAMP,
    time::Date => Type::DATE,
    serde_json::Value => Type::JSONB,
    Vec<bool> => Type::BOOL_ARRAY,
    Vec<Option<bool>> => Type::BOOL_ARRAY,
    Vec<Option<String>> => Type::TEXT_ARRAY,
    Vec<Option<i32>> => Type::INT4_ARRAY,
    Vec<i16> => Type::INT2_ARRAY,
    Vec<i32> => Type::INT4_ARRAY,
    Vec<i64> => Type::INT8_ARRAY,
    Vec<String> => Type::TEXT_ARRAY,
    Vec<&str> => Type::TEXT_ARRAY,
    Vec<rust_decimal::Decimal> => Type::NUMERIC_ARRAY,
    [i32] => Type::INT4_ARRAY,
    [i64] => Type::INT8_ARRAY,
    [String] => Type::TEXT_ARRAY,
    [&str] => Type::TEXT_ARRAY,
}

impl<T: SqlType + ?Sized> SqlType for &T {
    fn sql_type() -> Type {
        T::sql_type()
    }
}

impl<T: SqlType> SqlType for Option<T> {
    fn sql_type() -> Type {
        T::sql_type()
    }
}

/// The parameters as tokio-postgres' typed calls take them.
pub(super) fn typed<'a>(params: &'a [&'a dyn Param]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params
        .iter()
        .map(|p| (*p as &(dyn ToSql + Sync), p.sql_type()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_references_take_their_value_types() {
        assert_eq!(<Option<i32> as SqlType>::sql_type(), Type::INT4);
        assert_eq!(<&&str as SqlType>::sql_type(), Type::TEXT);
        assert_eq!(<Option<&String> as SqlType>::sql_type(), Type::TEXT);
        let p: &dyn Param = &Some(3_i64);
        assert_eq!(p.sql_type(), Type::INT8);
    }

    #[test]
    fn untyped_is_oid_zero() {
        assert!(is_untyped(&untyped()));
        assert!(!is_untyped(&Type::TEXT));
    }
}
