//! A crate's production module tree, read with `syn` from its root file along its `mod`
//! declarations: for each module, what it defines, what it imports and which paths its code
//! names. Test-only code is left out: items under a `#[cfg]` that is false without `test` and
//! without the `test-util` feature (`#[cfg(test)]`, `#[cfg(any(test, feature = "test-util"))]`),
//! and `tests.rs` files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;
use syn::{Attribute, Item, UseTree};

/// Where the module tree's files come from: the file system, or a map in unit tests.
pub trait Source {
    fn read(&self, path: &Path) -> std::io::Result<String>;
    fn exists(&self, path: &Path) -> bool;
}

/// The file system.
pub struct Files;

impl Source for Files {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn exists(&self, path: &Path) -> bool {
        path.is_file()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: syn::Error },
    #[error("{path}: `mod {name};` has no file (tried {tried})")]
    MissingModule { path: PathBuf, name: String, tried: String },
}

/// One segment of a path as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Crate,
    SelfMod,
    Super,
    Name(String),
}

/// A path some module's code names, and where.
#[derive(Debug, Clone)]
pub struct Reference {
    pub path: Vec<Seg>,
    pub file: PathBuf,
    pub line: usize,
}

impl Reference {
    pub fn text(&self) -> String {
        self.path
            .iter()
            .map(|s| match s {
                Seg::Crate => "crate",
                Seg::SelfMod => "self",
                Seg::Super => "super",
                Seg::Name(n) => n.as_str(),
            })
            .collect::<Vec<_>>()
            .join("::")
    }
}

/// Index of a module in [`Tree::modules`]; the crate root is 0.
pub type ModId = usize;

#[derive(Debug, Default)]
pub struct Module {
    /// Names from the crate root, e.g. `["handler", "ecs"]`; empty for the root.
    pub path: Vec<String>,
    pub file: PathBuf,
    pub parent: Option<ModId>,
    pub children: BTreeMap<String, ModId>,
    /// Items defined here (types, functions, traits, constants, macros).
    pub items: BTreeSet<String>,
    /// `use a::b as c;` -> `c` -> `a::b`.
    pub imports: BTreeMap<String, Vec<Seg>>,
    /// `use a::*;` -> `a`.
    pub globs: Vec<Vec<Seg>>,
    /// Names bound to other crates (`extern crate x as y;`).
    pub externs: BTreeSet<String>,
    /// Every path of two or more segments, or starting with `crate`/`self`/`super`, in this
    /// module's own code and `use` items (not its child modules').
    pub references: Vec<Reference>,
}

#[derive(Debug)]
pub struct Tree {
    pub crate_name: String,
    pub modules: Vec<Module>,
}

impl Tree {
    /// `hook::handler::ecs`, or `hook` for the root.
    pub fn name(&self, id: ModId) -> String {
        std::iter::once(self.crate_name.as_str())
            .chain(self.modules[id].path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("::")
    }
}

/// Reads the crate whose root file is `root` (its `lib.rs` or a binary's `main.rs`).
pub fn load(crate_name: &str, root: &Path, source: &dyn Source) -> Result<Tree, LoadError> {
    let mut tree = Tree { crate_name: crate_name.to_string(), modules: Vec::new() };
    let root_dir = root.parent().map(Path::to_path_buf).unwrap_or_default();
    let module = Module { file: root.to_path_buf(), ..Module::default() };
    tree.modules.push(module);
    let file = parse(root, source)?;
    add_items(&mut tree, 0, &file.items, root, &root_dir, source)?;
    Ok(tree)
}

fn parse(path: &Path, source: &dyn Source) -> Result<syn::File, LoadError> {
    let text = source.read(path).map_err(|e| LoadError::Read { path: path.to_path_buf(), source: e })?;
    syn::parse_file(&text).map_err(|e| LoadError::Parse { path: path.to_path_buf(), source: e })
}

/// Adds `items` (a file's or an inline module's) to module `id`; `file` is the file they are in,
/// `child_dir` the directory where this module's `mod x;` files live.
fn add_items(
    tree: &mut Tree,
    id: ModId,
    items: &[Item],
    file: &Path,
    child_dir: &Path,
    source: &dyn Source,
) -> Result<(), LoadError> {
    for item in items {
        if test_only(item_attrs(item)) {
            continue;
        }
        match item {
            Item::Mod(m) => {
                let name = m.ident.to_string();
                let parsed;
                let (child_file, child_items, grandchild_dir) = match &m.content {
                    Some((_, items)) => (file.to_path_buf(), items.as_slice(), child_dir.join(&name)),
                    None => {
                        let path = module_file(m, file, child_dir, source)?;
                        // `tests.rs` files are test code whatever their `mod` line says.
                        if path.file_name().is_some_and(|f| f == "tests.rs") {
                            continue;
                        }
                        let dir = if path.file_name().is_some_and(|f| f == "mod.rs") {
                            path.parent().map(Path::to_path_buf).unwrap_or_default()
                        } else {
                            path.with_extension("")
                        };
                        parsed = parse(&path, source)?;
                        (path, parsed.items.as_slice(), dir)
                    }
                };
                let mut path = tree.modules[id].path.clone();
                path.push(name.clone());
                let child = tree.modules.len();
                tree.modules.push(Module { path, file: child_file.clone(), parent: Some(id), ..Module::default() });
                tree.modules[id].children.insert(name, child);
                add_items(tree, child, child_items, &child_file, &grandchild_dir, source)?;
            }
            Item::Use(u) => {
                let module = &mut tree.modules[id];
                add_use(module, &u.tree, Vec::new(), file, line_of(u.use_token.span));
            }
            Item::ExternCrate(e) => {
                let name = e.rename.as_ref().map(|(_, n)| n).unwrap_or(&e.ident).to_string();
                tree.modules[id].externs.insert(name);
            }
            other => {
                if let Some(name) = item_name(other) {
                    tree.modules[id].items.insert(name);
                }
                let mut collector = Collector { module: &mut tree.modules[id], file };
                collector.visit_item(other);
            }
        }
    }
    Ok(())
}

/// The file of `mod name;` declared in `file`: `#[path = "..."]` (relative to `file`'s
/// directory), else `<child_dir>/<name>.rs` or `<child_dir>/<name>/mod.rs`.
fn module_file(m: &syn::ItemMod, file: &Path, child_dir: &Path, source: &dyn Source) -> Result<PathBuf, LoadError> {
    let name = m.ident.to_string();
    let explicit = m.attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    });
    let candidates = match explicit {
        Some(p) => vec![file.parent().unwrap_or(Path::new("")).join(p)],
        None => vec![child_dir.join(format!("{name}.rs")), child_dir.join(&name).join("mod.rs")],
    };
    candidates.iter().find(|c| source.exists(c)).cloned().ok_or_else(|| LoadError::MissingModule {
        path: file.to_path_buf(),
        name,
        tried: candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", "),
    })
}

fn add_use(module: &mut Module, tree: &UseTree, mut prefix: Vec<Seg>, file: &Path, line: usize) {
    match tree {
        UseTree::Path(p) => {
            prefix.push(seg(&p.ident));
            add_use(module, &p.tree, prefix, file, line);
        }
        UseTree::Name(n) => {
            let full = with(&prefix, seg(&n.ident));
            if n.ident == "self" {
                // `use a::b::{self};` imports `b`.
                if let Some(Seg::Name(last)) = prefix.last() {
                    module.imports.insert(last.clone(), prefix.clone());
                }
                module.references.push(Reference { path: prefix, file: file.to_path_buf(), line });
            } else {
                module.imports.insert(n.ident.to_string(), full.clone());
                module.references.push(Reference { path: full, file: file.to_path_buf(), line });
            }
        }
        UseTree::Rename(r) => {
            let full = with(&prefix, seg(&r.ident));
            if r.rename != "_" {
                module.imports.insert(r.rename.to_string(), full.clone());
            }
            module.references.push(Reference { path: full, file: file.to_path_buf(), line });
        }
        UseTree::Glob(_) => {
            module.globs.push(prefix.clone());
            module.references.push(Reference { path: prefix, file: file.to_path_buf(), line });
        }
        UseTree::Group(g) => {
            for t in &g.items {
                add_use(module, t, prefix.clone(), file, line);
            }
        }
    }
}

fn with(prefix: &[Seg], last: Seg) -> Vec<Seg> {
    let mut v = prefix.to_vec();
    v.push(last);
    v
}

fn seg(ident: &syn::Ident) -> Seg {
    match ident.to_string().as_str() {
        "crate" => Seg::Crate,
        "self" => Seg::SelfMod,
        "super" => Seg::Super,
        other => Seg::Name(other.to_string()),
    }
}

fn line_of(span: proc_macro2::Span) -> usize {
    span.start().line
}

/// Collects the paths named by an item's code, and the `use` items nested in function bodies
/// (as imports of the module: they resolve the same way).
struct Collector<'a> {
    module: &'a mut Module,
    file: &'a Path,
}

impl Collector<'_> {
    fn record(&mut self, path: Vec<Seg>, line: usize) {
        let anchored = matches!(path.first(), Some(Seg::Crate | Seg::SelfMod | Seg::Super));
        if anchored || path.len() >= 2 {
            self.module.references.push(Reference { path, file: self.file.to_path_buf(), line });
        }
    }

    /// Paths inside a macro's tokens (`format!("{}", crate::x::y())`): runs of
    /// `ident (:: ident)*` in the token tree.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => {
                    self.scan_tokens(g.stream());
                    i += 1;
                }
                TokenTree::Ident(first) => {
                    let line = line_of(first.span());
                    let mut path = vec![seg(first)];
                    let mut j = i + 1;
                    while j < tokens.len() && is_path_sep(&tokens[j..]) {
                        match tokens.get(j + 2) {
                            Some(TokenTree::Ident(next)) => {
                                path.push(seg(next));
                                j += 3;
                            }
                            _ => break,
                        }
                    }
                    self.record(path, line);
                    i = j;
                }
                TokenTree::Punct(_) | TokenTree::Literal(_) => i += 1,
            }
        }
    }
}

fn is_path_sep(tokens: &[TokenTree]) -> bool {
    matches!(
        (tokens.first(), tokens.get(1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
            if a.as_char() == ':' && b.as_char() == ':' && a.spacing() == proc_macro2::Spacing::Joint
    )
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast Item) {
        if test_only(item_attrs(item)) {
            return;
        }
        match item {
            Item::Use(u) => add_use(self.module, &u.tree, Vec::new(), self.file, line_of(u.use_token.span)),
            // A module inside a function body: rare; its own paths still count for this module.
            _ => syn::visit::visit_item(self, item),
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs = match item {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            syn::ImplItem::Macro(i) => &i.attrs,
            _ => return syn::visit::visit_impl_item(self, item),
        };
        if !test_only(attrs) {
            syn::visit::visit_impl_item(self, item);
        }
    }

    fn visit_trait_item(&mut self, item: &'ast syn::TraitItem) {
        let attrs = match item {
            syn::TraitItem::Const(i) => &i.attrs,
            syn::TraitItem::Fn(i) => &i.attrs,
            syn::TraitItem::Type(i) => &i.attrs,
            syn::TraitItem::Macro(i) => &i.attrs,
            _ => return syn::visit::visit_trait_item(self, item),
        };
        if !test_only(attrs) {
            syn::visit::visit_trait_item(self, item);
        }
    }

    fn visit_field(&mut self, field: &'ast syn::Field) {
        if !test_only(&field.attrs) {
            syn::visit::visit_field(self, field);
        }
    }

    fn visit_variant(&mut self, variant: &'ast syn::Variant) {
        if !test_only(&variant.attrs) {
            syn::visit::visit_variant(self, variant);
        }
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        let attrs = match stmt {
            syn::Stmt::Local(l) => &l.attrs,
            syn::Stmt::Macro(m) => &m.attrs,
            _ => return syn::visit::visit_stmt(self, stmt),
        };
        if !test_only(attrs) {
            syn::visit::visit_stmt(self, stmt);
        }
    }

    // Attributes name derive macros and tools, not modules of this crate.
    fn visit_attribute(&mut self, _: &'ast Attribute) {}

    // `pub(crate)`, `pub(super)`, `pub(in crate::a)` say who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            let line = path.segments.first().map(|s| line_of(s.ident.span())).unwrap_or(0);
            self.record(path.segments.iter().map(|s| seg(&s.ident)).collect(), line);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.scan_tokens(mac.tokens.clone());
    }
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

fn item_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Const(i) => &i.ident,
        Item::Enum(i) => &i.ident,
        Item::Fn(i) => &i.sig.ident,
        Item::Macro(i) => i.ident.as_ref()?,
        Item::Static(i) => &i.ident,
        Item::Struct(i) => &i.ident,
        Item::Trait(i) => &i.ident,
        Item::TraitAlias(i) => &i.ident,
        Item::Type(i) => &i.ident,
        Item::Union(i) => &i.ident,
        _ => return None,
    };
    Some(ident.to_string())
}

/// True when one of `attrs` is a `#[cfg(...)]` that cannot hold in a production build: false
/// with `test` off and the `test-util` feature off, whatever the other options.
pub fn test_only(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Meta>().is_ok_and(|m| cfg_value(&m) == Some(false)))
}

/// The value of a cfg predicate in a production build: `Some(false)` for `test` and
/// `feature = "test-util"`, `None` (either) for anything else.
fn cfg_value(meta: &syn::Meta) -> Option<bool> {
    match meta {
        syn::Meta::Path(p) if p.is_ident("test") => Some(false),
        syn::Meta::NameValue(nv) if nv.path.is_ident("feature") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) if s.value() == "test-util" => Some(false),
            _ => None,
        },
        syn::Meta::List(list) => {
            let args: Vec<syn::Meta> = list
                .parse_args_with(syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
                .map(|p| p.into_iter().collect())
                .unwrap_or_default();
            let values: Vec<Option<bool>> = args.iter().map(cfg_value).collect();
            if list.path.is_ident("all") {
                if values.contains(&Some(false)) {
                    Some(false)
                } else if values.iter().all(|v| *v == Some(true)) {
                    Some(true)
                } else {
                    None
                }
            } else if list.path.is_ident("any") {
                if values.contains(&Some(true)) {
                    Some(true)
                } else if values.iter().all(|v| *v == Some(false)) {
                    Some(false)
                } else {
                    None
                }
            } else if list.path.is_ident("not") {
                values.first().copied().flatten().map(|v| !v)
            } else {
                None
            }
        }
        _ => None,
    }
}
