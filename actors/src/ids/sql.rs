//! The id newtypes as diesel values (feature `diesel`): each is a `BigInt` column, read and written
//! through `i64`, so row structs and query parameters carry `UserId`, `RoomId`, ... instead of bare
//! integers.
//!
//! The impls are generic over the backend, bounded on `i64` supporting `BigInt` there, so one impl
//! serves PostgreSQL, SQLite and the backend a `#[derive(MultiConnection)]` enum generates. They
//! live here rather than in the server crate because of the orphan rule: `FromSql`/`ToSql` are
//! diesel's traits, so only the crate that owns the types may implement them.

use super::{MessageId, PlaylistId, RoomId, StreamId, UploadId, UserId};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::BigInt;

macro_rules! bigint_id {
    ($($name:ident),*) => {$(
        impl<DB> FromSql<BigInt, DB> for $name
        where
            DB: Backend,
            i64: FromSql<BigInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                i64::from_sql(bytes).map($name)
            }
        }

        impl<DB> ToSql<BigInt, DB> for $name
        where
            DB: Backend,
            i64: ToSql<BigInt, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }
    )*};
}

bigint_id!(UserId, RoomId, MessageId, StreamId, UploadId, PlaylistId);
