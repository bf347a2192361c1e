//! Custom emoji: the `:shortcode:` rules and the checks an uploaded image goes through. The store
//! queries are in `crate::db::emoji`, the REST routes in `crate::http::routes::emoji`.

pub mod image;
pub mod shortcode;
