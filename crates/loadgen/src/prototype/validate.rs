//! `prototype validate`: session checks per second, the prototype's twin of
//! `validate`: the same closed loop (`scenarios::validate::ClosedLoop`), with
//! the ids of `--sessions` prototype sessions instead of tokens.

use std::sync::Arc;

use super::{check_accounts, sign_in_many, ProtoValidateArgs};
use crate::scenarios::validate::{Check, ClosedLoop, ValidateReport};
use crate::LoadgenError;

pub async fn run(a: &ProtoValidateArgs) -> Result<ValidateReport, LoadgenError> {
    let target = &a.target.target;
    check_accounts(a.sessions, &a.accounts)?;
    let ids: Arc<[String]> = sign_in_many(target, &a.accounts, 0, a.sessions)
        .await?
        .into();
    ClosedLoop {
        scenario: "prototype-validate",
        target,
        keys: ids,
        check: Check::PrototypeId,
        connections: a.connections,
        count: a.count,
        duration: a.duration,
    }
    .run()
    .await
}
