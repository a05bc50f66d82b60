//! `ClassLimits`: how many live sessions each device class may have.
//!
//! Parsed once from `--class-limits web=1,mobile=1`, from a users-file
//! entry's `class_limits = { web = 1 }` table or from a runtime override;
//! `domain::decide` reads it, and `sign_in.lua` gets it as the same JSON
//! object (`{"web":1,"mobile":1}`). Every limit is at least 1; classes it
//! does not name have no limit of their own and share the total.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::device_class::DeviceClass;

/// Per-class limits; empty means none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<DeviceClass, u32>",
    into = "BTreeMap<DeviceClass, u32>"
)]
pub struct ClassLimits(BTreeMap<DeviceClass, u32>);

/// Why a class-limits value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClassLimitsError {
    #[error("expected class=limit pairs separated by commas, e.g. web=1,mobile=1")]
    Shape,
    #[error("a class name must be 1-32 characters of a-z, 0-9, _ and -")]
    Class,
    #[error("the limit of class {0} must be a whole number of at least 1")]
    Limit(String),
    #[error("class {0} is given twice")]
    Twice(String),
}

impl ClassLimits {
    /// `web=1,mobile=2` (spaces around items allowed); empty text is no limits.
    pub fn parse(raw: &str) -> Result<Self, ClassLimitsError> {
        let mut limits = BTreeMap::new();
        for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (class, limit) = item.split_once('=').ok_or(ClassLimitsError::Shape)?;
            let class = DeviceClass::parse(class.trim()).map_err(|_| ClassLimitsError::Class)?;
            let limit = match limit.trim().parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => return Err(ClassLimitsError::Limit(class.as_str().to_owned())),
            };
            if limits.insert(class.clone(), limit).is_some() {
                return Err(ClassLimitsError::Twice(class.as_str().to_owned()));
            }
        }
        Ok(ClassLimits(limits))
    }

    /// The limit of `class`, if it has one.
    pub fn get(&self, class: &DeviceClass) -> Option<u32> {
        self.0.get(class).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many classes have a limit.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Every limit, class by class.
    pub fn limits(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.values().copied()
    }
}

impl TryFrom<BTreeMap<DeviceClass, u32>> for ClassLimits {
    type Error = ClassLimitsError;
    fn try_from(map: BTreeMap<DeviceClass, u32>) -> Result<Self, Self::Error> {
        match map.iter().find(|(_, &n)| n == 0) {
            Some((class, _)) => Err(ClassLimitsError::Limit(class.as_str().to_owned())),
            None => Ok(ClassLimits(map)),
        }
    }
}

impl From<ClassLimits> for BTreeMap<DeviceClass, u32> {
    fn from(l: ClassLimits) -> Self {
        l.0
    }
}

/// `web=1,mobile=2`, as `parse` reads it.
impl fmt::Display for ClassLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|(c, n)| format!("{}={n}", c.as_str()))
            .collect();
        f.write_str(&items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_refuses_the_rest() {
        let l = ClassLimits::parse(" web=1, mobile = 2 ").unwrap();
        assert_eq!(l.get(&DeviceClass::parse("web").unwrap()), Some(1));
        assert_eq!(l.get(&DeviceClass::parse("mobile").unwrap()), Some(2));
        assert_eq!(l.get(&DeviceClass::parse("tv").unwrap()), None);
        assert_eq!(l.to_string(), "mobile=2,web=1");
        assert!(ClassLimits::parse("").unwrap().is_empty());
        assert_eq!(ClassLimits::parse("web"), Err(ClassLimitsError::Shape));
        assert_eq!(ClassLimits::parse("Web=1"), Err(ClassLimitsError::Class));
        assert_eq!(
            ClassLimits::parse("web=0"),
            Err(ClassLimitsError::Limit("web".into()))
        );
        assert_eq!(
            ClassLimits::parse("web=x"),
            Err(ClassLimitsError::Limit("web".into()))
        );
        assert_eq!(
            ClassLimits::parse("web=1,web=2"),
            Err(ClassLimitsError::Twice("web".into()))
        );
    }

    #[test]
    fn the_json_form_is_an_object_and_refuses_zero() {
        let l = ClassLimits::parse("web=1,mobile=2").unwrap();
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(json, r#"{"mobile":2,"web":1}"#);
        assert_eq!(serde_json::from_str::<ClassLimits>(&json).unwrap(), l);
        assert!(serde_json::from_str::<ClassLimits>(r#"{"web":0}"#).is_err());
        assert!(serde_json::from_str::<ClassLimits>(r#"{"Web":1}"#).is_err());
    }
}
