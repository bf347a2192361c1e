//! `Authorized<N>`: the permission check for REST handlers, in one place. A handler that takes
//! `Authorized<UsersManage>` is only called for a valid session whose role holds `users.manage`;
//! others get 403 `forbidden` naming the permission. (Unauthenticated: 401, as `AuthUser`.)

use super::error::ApiError;
use super::extract::AuthUser;
use crate::auth::permission::grants;
use crate::auth::Authenticated;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use std::marker::PhantomData;
use veza_actors::permission::Permission;

/// A permission as a type, for `Authorized<N>`.
pub trait Need {
    const PERMISSION: Permission;
}

macro_rules! needs {
    ($($name:ident),* $(,)?) => {
        $(
            #[doc = concat!("Needs `", stringify!($name), "`.")]
            pub struct $name;
            impl Need for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )*
    };
}

needs!(
    RoomsCreate,
    StreamsCreate,
    ClipsCreate,
    UsersManage,
    AuditRead,
    SystemRead,
    BotsCreate
);

pub struct Authorized<N: Need>(pub Authenticated, pub PhantomData<N>);

pub fn forbidden(permission: Permission) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("this needs the {} permission", permission.name()),
    )
}

/// Whether `who` holds `permission` (for checks that combine ownership with a permission).
pub fn holds(state: &AppState, who: &Authenticated, permission: Permission) -> bool {
    grants(who.role, &state.config).allows(permission)
}

impl<N: Need + 'static> FromRequest for Authorized<N> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let AuthUser(who) = user.await?;
            let state = state.ok_or_else(|| ApiError::internal("AppState missing"))?;
            if !holds(&state, &who, N::PERMISSION) {
                return Err(forbidden(N::PERMISSION));
            }
            Ok(Authorized(who, PhantomData))
        })
    }
}
