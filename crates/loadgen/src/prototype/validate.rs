//! `prototype validate`: session checks per second, the prototype's twin of
//! `validate` with the same arguments and the same closed loop
//! (`scenarios::validate::closed_loop`), over the ids of `--sessions`
//! prototype sessions instead of tokens.

use super::{check_accounts, sign_in_many};
use crate::cli::ValidateArgs;
use crate::scenarios::validate::{closed_loop, Check, ValidateReport};
use crate::LoadgenError;

pub async fn run(a: &ValidateArgs) -> Result<ValidateReport, LoadgenError> {
    check_accounts(a.sessions, &a.accounts)?;
    let ids = sign_in_many(&a.target.target, &a.accounts, 0, a.sessions).await?;
    closed_loop(a, ids.into(), Check::PrototypeId).await
}
