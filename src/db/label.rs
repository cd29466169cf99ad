//! Columns whose values are labels from a fixed set (`Users.role`, `Orders.status`,
//! `Notifications.priority`), whatever type the database gave them: crm's migrations make them
//! VARCHAR with a CHECK, the original application's `sequelize-cli` made them PostgreSQL ENUM
//! types (`enum_Users_role`, ...), and crm must work on both.
//!
//! The one mechanism: such values travel as their label's text. An ENUM's binary wire format is
//! its label's UTF-8 bytes, exactly as a VARCHAR's is, so a type that accepts either and writes
//! or reads those bytes binds to `"role" = $1` and reads `"role"` on both schemas, and the server
//! infers the parameter's type from the column. [`Text`] does this for any string; a typed label
//! (`Role`, `OrderStatus`, `Priority`) gets the same through [`label_sql!`].
//!
//! SQL never compares such a column with a parameter typed `::text` (there is no
//! `enum = text` operator); a staging column that feeds one is declared from the column itself
//! (`CREATE TEMP TABLE ... AS SELECT "status" FROM "Orders" WITH NO DATA`), or the value is cast
//! to [`column_type`].

use anyhow::{Context as _, Result};
use bytes::BytesMut;
use std::error::Error;
use tokio_postgres::GenericClient;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

/// Whether a value of this type travels as a label's text: the string types, and any ENUM.
pub fn is_label_type(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    ) || matches!(ty.kind(), Kind::Enum(_))
        || super::param::is_untyped(ty)
}

/// A string bound or read as text, whatever string or ENUM type the column has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl Text {
    pub fn into_string(self) -> String {
        self.0
    }
}

impl ToSql for Text {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        is_label_type(ty)
    }

    to_sql_checked!();
}

/// Sent untyped: the server types it from the column, VARCHAR or ENUM.
impl super::param::SqlType for Text {
    fn sql_type() -> Type {
        super::param::untyped()
    }
}

impl<'a> FromSql<'a> for Text {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Text(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        is_label_type(ty)
    }
}

/// Column `column` of `row` as text, NULL as `None`, on a VARCHAR or an ENUM column alike.
pub fn text(row: &tokio_postgres::Row, column: &str) -> Result<Option<String>> {
    Ok(row
        .try_get::<_, Option<Text>>(column)?
        .map(Text::into_string))
}

/// A value of a closed set of labels, known to the code (never user text): besides binding as
/// text, it may be written into SQL as a literal where no parameter can go (COPY), which the
/// server types from the column it meets, VARCHAR or ENUM.
pub trait Label: super::Param + Send + 'static {
    fn label(&self) -> &'static str;
}

/// Gives a label enum (with `as_str(self) -> &'static str` and `FromStr<Err = String>`)
/// `ToSql` and `FromSql` as its text, on a VARCHAR or an ENUM column alike, and [`Label`].
macro_rules! label_sql {
    ($label:ty) => {
        impl tokio_postgres::types::ToSql for $label {
            fn to_sql(
                &self,
                _: &tokio_postgres::types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
            {
                out.extend_from_slice(self.as_str().as_bytes());
                Ok(tokio_postgres::types::IsNull::No)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                $crate::db::label::is_label_type(ty)
            }

            tokio_postgres::types::to_sql_checked!();
        }

        impl<'a> tokio_postgres::types::FromSql<'a> for $label {
            fn from_sql(
                _: &tokio_postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                Ok(std::str::from_utf8(raw)?.parse::<$label>()?)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                $crate::db::label::is_label_type(ty)
            }
        }

        impl $crate::db::param::SqlType for $label {
            fn sql_type() -> tokio_postgres::types::Type {
                $crate::db::param::untyped()
            }
        }

        impl $crate::db::label::Label for $label {
            fn label(&self) -> &'static str {
                self.as_str()
            }
        }
    };
}
pub(crate) use label_sql;

const COLUMN_TYPE: &str = r#"
    SELECT format_type(a.atttypid, a.atttypmod)
    FROM pg_attribute a
    WHERE a.attrelid = $1::text::regclass AND a.attname = $2 AND NOT a.attisdropped"#;

/// The type of `table.column` as SQL names it (`character varying(255)`,
/// `"enum_Orders_status"`), quoted by the server, for a cast in generated SQL that fills the
/// column from text.
pub async fn column_type(client: &impl GenericClient, table: &str, column: &str) -> Result<String> {
    let rows = super::query(
        client,
        COLUMN_TYPE,
        &[&super::quote_identifier(table), &column],
    )
    .await
    .with_context(|| format!("cannot read the type of {table}.{column}"))?;
    let row = rows
        .first()
        .with_context(|| format!("the table {table} has no column {column}"))?;
    Ok(row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::types::Kind;

    #[test]
    fn labels_bind_to_strings_and_enums_but_not_numbers() {
        let role = Type::new(
            "enum_Users_role".into(),
            16_385,
            Kind::Enum(vec!["admin".into(), "staff".into()]),
            "public".into(),
        );
        assert!(<Text as ToSql>::accepts(&role));
        assert!(<Text as FromSql>::accepts(&role));
        assert!(<Text as ToSql>::accepts(&Type::VARCHAR));
        assert!(!<Text as ToSql>::accepts(&Type::INT4));
        assert!(!<Text as FromSql>::accepts(&Type::JSONB));
    }
}
