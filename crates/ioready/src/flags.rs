//! A small macro for the bit-set types of this crate (`PollFlags`,
//! `EpollFlags`, `Interest`). Written here instead of pulling `bitflags` into
//! the public API: these types must keep unknown kernel bits (the raw event
//! bits pass through untouched), and need only a handful of operations.

macro_rules! flag_set {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($int:ty);
        $(
            $(#[$cmeta:meta])*
            const $cname:ident = $value:expr;
        )*
    ) => {
        $(#[$meta])*
        #[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name($int);

        impl $name {
            $(
                $(#[$cmeta])*
                pub const $cname: $name = $name($value as $int);
            )*

            /// The empty set.
            pub const fn empty() -> Self {
                $name(0)
            }

            /// Wraps raw bits, keeping bits this crate has no name for.
            pub const fn from_bits(bits: $int) -> Self {
                $name(bits)
            }

            /// The raw bits, as the kernel sees them.
            pub const fn bits(self) -> $int {
                self.0
            }

            /// True if no bit is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// True if every bit of `other` is set in `self`.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// True if `self` and `other` share at least one bit.
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }

            /// `self` without the bits of `other`.
            pub const fn remove(self, other: Self) -> Self {
                $name(self.0 & !other.0)
            }

            /// The named flags set in `self`, for `Debug`.
            fn names(self) -> impl Iterator<Item = &'static str> {
                const NAMES: &[(&str, $int)] = &[$((stringify!($cname), $value as $int)),*];
                NAMES
                    .iter()
                    .filter(move |(_, v)| *v != 0 && self.0 & *v == *v)
                    .map(|(n, _)| *n)
            }
        }

        impl core::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                $name(self.0 | rhs.0)
            }
        }

        impl core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                self.0 |= rhs.0;
            }
        }

        impl core::ops::BitAnd for $name {
            type Output = Self;
            fn bitand(self, rhs: Self) -> Self {
                $name(self.0 & rhs.0)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                let mut known: $int = 0;
                let mut first = true;
                for name in self.names() {
                    if !first {
                        f.write_str(" | ")?;
                    }
                    first = false;
                    f.write_str(name)?;
                }
                $( if self.0 & ($value as $int) == ($value as $int) { known |= $value as $int; } )*
                let unknown = self.0 & !known;
                if unknown != 0 {
                    if !first {
                        f.write_str(" | ")?;
                    }
                    first = false;
                    write!(f, "{:#x}", unknown)?;
                }
                if first {
                    f.write_str("(empty)")?;
                }
                Ok(())
            }
        }
    };
}

pub(crate) use flag_set;
