"""The languages beyond the first seventeen, and shebang detection, checked against known answers.

Each case is a small source file with the exact definitions (kind, qualname, line span), imports,
calls and inheritance facts its query file must yield, plus a few signatures and docstrings.
Shebang detection is checked on the bytes alone and through discovery.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from repo_rag.indexers import discover as disc
from repo_rag.indexers.discover import discover
from repo_rag.indexers.languages import (
    CODE_LANGUAGES,
    get_parser,
    language_for_path,
    language_for_shebang,
)
from repo_rag.indexers.model import CALL, CLASS, FUNCTION, INHERIT, METHOD
from repo_rag.indexers.parse import get_query, parse_source


@dataclass(frozen=True)
class Case:
    """A known-answer fixture: imports are (module, names, alias, line); calls (source, receiver, name)."""

    language: str
    path: str
    source: str
    definitions: list[tuple[str, str, int, int]]
    imports: set[tuple] = field(default_factory=set)
    calls: set[tuple[str, str, str]] = field(default_factory=set)
    inherits: set[tuple[str, str]] = field(default_factory=set)
    signatures: dict[str, tuple[str, str]] = field(default_factory=dict)  # qualname -> (signature, docstring)


CASES = [
    Case(
        'haskell', 'src/Shop/Cart.hs',
        '''\
module Shop.Cart (Cart, total) where

import qualified Data.Map as M
import Data.List (sortBy, foldl')

data Cart = Cart { items :: [Item] }

newtype Price = Price Int

-- | Sum of the item prices.
total :: Cart -> Int
total cart = sum (map price (items cart))

class (Eq a, Show a) => Priced a where
  price :: a -> Int

instance Priced Item where
  price i = itemCents i

lookupPrice k
  | k > 0 = M.lookup k table
  | otherwise = Nothing
  where
    table = M.empty
''',
        definitions=[
            (CLASS, 'Cart', 6, 6),
            (CLASS, 'Price', 8, 8),
            (FUNCTION, 'total', 10, 12),
            (CLASS, 'Priced', 14, 15),
            (METHOD, 'Item.price', 18, 18),
            (FUNCTION, 'lookupPrice', 20, 24),
            (FUNCTION, 'lookupPrice.table', 24, 24),
        ],
        imports={
            ('Data.List', (('sortBy', 'sortBy'), ("foldl'", "foldl'")), '', 4),
            ('Data.Map', (), 'M', 3),
        },
        calls={
            ('Item.price', '', 'itemCents'),
            ('lookupPrice', 'M', 'lookup'),
            ('total', '', 'items'),
            ('total', '', 'map'),
            ('total', '', 'sum'),
        },
        inherits={('Item', 'Priced'), ('Priced', 'Eq'), ('Priced', 'Show')},
        signatures={
            'Cart': ('data Cart = Cart { items :: [Item] }', ''),
            'total': ('total cart', 'Sum of the item prices.'),
        },
    ),
    Case(
        'elixir', 'lib/shop/cart.ex',
        '''\
defmodule Shop.Cart do
  @moduledoc "Cart arithmetic."
  alias Shop.{Item, Price}
  alias Shop.Tax, as: T
  import Enum, only: [map: 2]
  @behaviour Shop.Priced

  @doc "Total in cents."
  def total(cart) do
    cart.items |> Enum.map(&Price.cents/1) |> sum()
  end

  defp sum(list), do: Enum.reduce(list, 0, &+/2)

  def empty?(cart) when cart == nil, do: T.zero()
end

defimpl Shop.Priced, for: Shop.Item do
  def price(item), do: item.cents
end
''',
        definitions=[
            (CLASS, 'Shop.Cart', 1, 16),
            (METHOD, 'Shop.Cart.total', 8, 11),
            (METHOD, 'Shop.Cart.sum', 13, 13),
            (METHOD, 'Shop.Cart.empty?', 15, 15),
            (METHOD, 'Shop.Item.price', 19, 19),
        ],
        imports={
            ('Enum', (), '', 5),
            ('Shop', (('Item', 'Item'), ('Price', 'Price')), '', 3),
            ('Shop.Tax', (), 'T', 4),
        },
        calls={
            ('Shop.Cart.empty?', 'T', 'zero'),
            ('Shop.Cart.sum', 'Enum', 'reduce'),
            ('Shop.Cart.total', '', 'sum'),
            ('Shop.Cart.total', 'Enum', 'map'),
        },
        inherits={('Shop.Cart', 'Priced'), ('Shop.Item', 'Priced')},
        signatures={
            'Shop.Cart': ('defmodule Shop.Cart', 'Cart arithmetic.'),
        },
    ),
    Case(
        'zig', 'src/cart.zig',
        '''\
const std = @import("std");
const Item = @import("item.zig").Item;

/// A cart of items.
pub const Cart = struct {
    items: []Item,

    /// Total in cents.
    pub fn total(self: Cart) u64 {
        var sum: u64 = 0;
        for (self.items) |it| sum += it.cents();
        return helper(sum);
    }
};

const Color = enum { red, green };

fn helper(x: u64) u64 {
    std.debug.print("x", .{});
    return x;
}
''',
        definitions=[
            (CLASS, 'Cart', 4, 14),
            (METHOD, 'Cart.total', 8, 13),
            (CLASS, 'Color', 16, 16),
            (FUNCTION, 'helper', 18, 21),
        ],
        imports={
            ('item.zig', (('Item', 'Item'),), '', 2),
            ('std', (), 'std', 1),
        },
        calls={
            ('Cart.total', '', 'helper'),
            ('Cart.total', 'it', 'cents'),
            ('helper', 'std.debug', 'print'),
        },
        signatures={
            'Cart': ('pub const Cart =', 'A cart of items.'),
            'Cart.total': ('pub fn total(self: Cart) u64', 'Total in cents.'),
        },
    ),
    Case(
        'ocaml', 'lib/cart.ml',
        '''\
open Printf

(** A cart. *)
type cart = { items : item list }

let total cart =
  List.fold_left (fun acc i -> acc + price i) 0 cart.items

let rec count = function
  | [] -> 0
  | _ :: t -> 1 + count t

module Pricing = struct
  let discount x = x / 2
end

class shop name = object (self)
  inherit base
  method greet = printf "%s" (self#name)
end

let () = print_endline (string_of_int (total { items = [] }))
''',
        definitions=[
            (CLASS, 'cart', 3, 4),
            (FUNCTION, 'total', 6, 7),
            (FUNCTION, 'count', 9, 11),
            (CLASS, 'Pricing', 13, 15),
            (METHOD, 'Pricing.discount', 14, 14),
            (CLASS, 'shop', 17, 20),
            (METHOD, 'shop.greet', 19, 19),
        ],
        imports={
            ('Printf', (), '', 1),
        },
        calls={
            ('', '', 'print_endline'),
            ('', '', 'string_of_int'),
            ('', '', 'total'),
            ('count', '', 'count'),
            ('shop.greet', '', 'printf'),
            ('shop.greet', 'self', 'name'),
            ('total', '', 'price'),
            ('total', 'List', 'fold_left'),
        },
        inherits={('shop', 'base')},
        signatures={
            'cart': ('type cart =', 'A cart.'),
        },
    ),
    Case(
        'julia', 'src/Shop.jl',
        '''\
module Shop

using LinearAlgebra
using Statistics: mean, median
import Base: show
include("item.jl")

"""
    total(cart)

Sum of the prices.
"""
function total(cart::Cart)::Int
    return sum(price.(cart.items)) + Base.length(cart.items)
end

struct Cart <: AbstractCart
    items::Vector{Item}
end

discount(x) = x ÷ 2

Base.show(io::IO, c::Cart) = print(io, "cart")

end
''',
        definitions=[
            (CLASS, 'Shop', 1, 25),
            (METHOD, 'Shop.total', 8, 15),
            (CLASS, 'Shop.Cart', 17, 19),
            (METHOD, 'Shop.discount', 21, 21),
            (METHOD, 'Base.show', 23, 23),
        ],
        imports={
            ('Base', (('show', 'show'),), '', 5),
            ('LinearAlgebra', (), '', 3),
            ('Statistics', (('mean', 'mean'), ('median', 'median')), '', 4),
            ('item.jl', (), '', 6),
        },
        calls={
            ('Base.show', '', 'print'),
            ('Shop', '', 'include'),
            ('Shop.total', '', 'price'),
            ('Shop.total', '', 'sum'),
            ('Shop.total', 'Base', 'length'),
        },
        inherits={('Shop.Cart', 'AbstractCart')},
        signatures={
            'Shop': ('module Shop', ''),
            'Shop.total': ('function total(cart::Cart)::Int', 'total(cart)\n\nSum of the prices.'),
        },
    ),
    Case(
        'perl', 'lib/Shop/Cart.pm',
        '''\
package Shop::Cart;
use strict;
use parent -norequire, 'Shop::Base';
use List::Util qw(sum max);
require Shop::Item;

# Total in cents.
sub total {
    my ($self) = @_;
    return sum(map { $_->cents } @{ $self->{items} }) + helper(1);
}

sub helper { Shop::Item::price(@_); }

package Shop::Basket {
    sub new { my $class = shift; bless {}, $class }
}
1;
''',
        definitions=[
            (CLASS, 'Shop.Cart', 1, 1),
            (FUNCTION, 'total', 7, 11),
            (FUNCTION, 'helper', 13, 13),
            (CLASS, 'Shop.Basket', 15, 17),
            (METHOD, 'Shop.Basket.new', 16, 16),
        ],
        imports={
            ('List::Util', (), '', 4),
            ('Shop::Item', (), '', 5),
        },
        calls={
            ('Shop.Basket.new', '', 'bless'),
            ('helper', 'Shop::Item', 'price'),
            ('total', '', 'helper'),
            ('total', '', 'sum'),
            ('total', '$_', 'cents'),
        },
        inherits={('', 'Base')},
        signatures={
            'Shop.Cart': ('package Shop::Cart;', ''),
            'total': ('sub total', 'Total in cents.'),
        },
    ),
    Case(
        'objc', 'Shop/Cart.m',
        '''\
#import <Foundation/Foundation.h>
#import "Item.h"
@import UIKit;

/// A cart.
@interface Cart : NSObject <Priced>
@property (nonatomic) NSArray *items;
- (NSInteger)total;
@end

@implementation Cart
- (NSInteger)total {
    NSInteger sum = 0;
    for (Item *item in self.items) { sum += [item cents]; }
    return helper(sum);
}
@end

static int helper(int x) { return x; }
''',
        definitions=[
            (CLASS, 'Cart', 5, 9),
            (METHOD, 'Cart.total', 8, 8),
            (METHOD, 'Cart.total', 12, 16),
            (FUNCTION, 'helper', 19, 19),
        ],
        imports={
            ('Foundation/Foundation.h', (), '', 1),
            ('Item.h', (), '', 2),
            ('UIKit', (), '', 3),
        },
        calls={
            ('Cart.total', '', 'helper'),
            ('Cart.total', 'item', 'cents'),
        },
        inherits={('Cart', 'NSObject'), ('Cart', 'Priced')},
        signatures={
            'Cart': ('@interface Cart : NSObject <Priced>', 'A cart.'),
        },
    ),
    Case(
        'groovy', 'src/main/groovy/shop/Cart.groovy',
        '''\
package shop

import shop.item.Item
import java.util.*
import static java.lang.Math.max as maximum

/** A cart. */
class Cart extends Base implements Priced {
    int total() {
        return items.sum { it.cents } + helper(1)
    }

    static Cart of(List<Item> xs) {
        new Cart(xs)
    }
}

def helper(int x) {
    println "x"
    maximum(x, 0)
}
''',
        definitions=[
            (CLASS, 'Cart', 7, 16),
            (METHOD, 'Cart.total', 9, 11),
            (METHOD, 'Cart.of', 13, 15),
            (FUNCTION, 'helper', 18, 21),
        ],
        imports={
            ('java.lang.Math.max', (), 'maximum', 5),
            ('java.util.*', (('*', '*'),), '', 4),
            ('shop.item.Item', (), '', 3),
        },
        calls={
            ('Cart.of', '', 'Cart'),
            ('Cart.total', '', 'helper'),
            ('Cart.total', 'items', 'sum'),
            ('helper', '', 'maximum'),
            ('helper', '', 'println'),
        },
        inherits={('Cart', 'Base'), ('Cart', 'Priced')},
        signatures={
            'Cart': ('class Cart extends Base implements Priced', 'A cart.'),
        },
    ),
    Case(
        'solidity', 'contracts/Shop.sol',
        '''\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

import "./Item.sol";
import {Ownable, Auth as A} from "@oz/Ownable.sol";

/// @notice A shop.
contract Shop is Ownable, IShop {
    event Paid(uint amount);
    uint public total;

    modifier onlyBig(uint x) { require(x > 10); _; }

    function pay(uint amount) external onlyBig(amount) returns (bool) {
        total += helper(amount);
        emit Paid(amount);
        return IItem(item).check(amount);
    }
}

library Math {
    function helper(uint x) internal pure returns (uint) { return x; }
}
''',
        definitions=[
            (CLASS, 'Shop', 7, 19),
            (METHOD, 'Shop.Paid', 9, 9),
            (METHOD, 'Shop.onlyBig', 12, 12),
            (METHOD, 'Shop.pay', 14, 18),
            (CLASS, 'Math', 21, 23),
            (METHOD, 'Math.helper', 22, 22),
        ],
        imports={
            ('./Item.sol', (), '', 4),
            ('@oz/Ownable.sol', (('Ownable', 'Ownable'), ('Auth', 'A')), '', 5),
        },
        calls={
            ('Shop.onlyBig', '', 'require'),
            ('Shop.pay', '', 'IItem'),
            ('Shop.pay', '', 'Paid'),
            ('Shop.pay', '', 'helper'),
            ('Shop.pay', '', 'onlyBig'),
            ('Shop.pay', 'IItem(item)', 'check'),
        },
        inherits={('Shop', 'IShop'), ('Shop', 'Ownable')},
        signatures={
            'Shop': ('contract Shop is Ownable, IShop', '@notice A shop.'),
        },
    ),
    Case(
        'powershell', 'scripts/Shop.ps1',
        '''\
using module ./Shop.psm1
Import-Module Az.Accounts
. ./helpers.ps1

<#
.SYNOPSIS
Total of a cart.
#>
function Get-Total {
    param([int[]]$Items)
    $sum = ($Items | Measure-Object -Sum).Sum
    return Format-Price $sum
}

class Cart : Base {
    [int[]]$Items
    [int] Total() {
        return $this.Sum([Math]::Max(1, 2))
    }
}

Get-Total -Items 1,2
''',
        definitions=[
            (FUNCTION, 'Get-Total', 5, 13),
            (CLASS, 'Cart', 15, 20),
            (METHOD, 'Cart.Total', 17, 19),
        ],
        imports={
            ('./Shop.psm1', (), '', 1),
            ('./helpers.ps1', (), '', 3),
            ('Az.Accounts', (), '', 2),
        },
        calls={
            ('', '', 'Get-Total'),
            ('Cart.Total', '$this', 'Sum'),
            ('Cart.Total', '[Math]', 'Max'),
            ('Get-Total', '', 'Format-Price'),
            ('Get-Total', '', 'Measure-Object'),
        },
        inherits={('Cart', 'Base')},
        signatures={
            'Get-Total': ('function Get-Total {', '.SYNOPSIS\nTotal of a cart.'),
            'Cart': ('class Cart : Base', ''),
        },
    ),
    Case(
        'sql', 'db/schema.sql',
        '''\
-- Orders placed in the shop.
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers(id),
    total INTEGER NOT NULL
);

CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;

CREATE INDEX idx_total ON orders (total);

CREATE FUNCTION order_total(o_id integer) RETURNS integer AS $$
  SELECT total FROM orders WHERE id = o_id;
$$ LANGUAGE sql;

CREATE MATERIALIZED VIEW reports.summary AS SELECT count(*) FROM orders;
''',
        definitions=[
            (CLASS, 'orders', 1, 6),
            (CLASS, 'big_orders', 8, 8),
            (FUNCTION, 'order_total', 12, 14),
            (CLASS, 'reports.summary', 16, 16),
        ],
        calls={
            ('reports.summary', '', 'count'),
        },
        signatures={
            'orders': ('CREATE TABLE orders', 'Orders placed in the shop.'),
        },
    ),
    Case(
        'hcl', 'infra/main.tf',
        '''\
# The web server.
resource "aws_instance" "web" {
  ami   = var.ami
  count = length(var.zones)
}

module "vpc" {
  source = "terraform-aws-modules/vpc/aws"
}

variable "ami" {
  type = string
}

data "aws_ami" "ubuntu" {
  most_recent = true
}

locals {
  name = upper("x")
}
''',
        definitions=[
            (CLASS, 'aws_instance.web', 1, 5),
            (CLASS, 'module.vpc', 7, 9),
            (CLASS, 'variable.ami', 11, 13),
            (CLASS, 'aws_ami.ubuntu', 15, 17),
        ],
        imports={
            ('terraform-aws-modules/vpc/aws', (), '', 7),
        },
        calls={
            ('', '', 'upper'),
            ('aws_instance.web', '', 'length'),
        },
        signatures={
            'aws_instance.web': ('resource "aws_instance" "web" {', 'The web server.'),
        },
    ),
    Case(
        'dockerfile', 'Dockerfile',
        '''\
# Build stage.
FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /app ./cmd/server

FROM gcr.io/distroless/base AS runtime
COPY --from=build /app /app
ENTRYPOINT ["/app"]
''',
        definitions=[
            (CLASS, 'build', 1, 2),
            (CLASS, 'runtime', 7, 7),
        ],
        imports={
            ('gcr.io/distroless/base', (), '', 7),
            ('golang', (), '', 2),
        },
        signatures={
            'build': ('FROM golang:1.22 AS build', 'Build stage.'),
        },
    ),
    Case(
        'fortran', 'src/cart.f90',
        '''\
! Cart arithmetic.
module cart_mod
  use iso_fortran_env, only: int64
  implicit none
  type :: cart
    integer :: n
  end type cart
contains
  ! Total of the cart.
  function total(c) result(t)
    type(cart), intent(in) :: c
    integer :: t
    t = helper(c%n)
  end function total

  subroutine show(c)
    type(cart) :: c
    call log_it(c%n)
  end subroutine show
end module cart_mod

program main
  use cart_mod
  call show(cart(1))
end program main
''',
        definitions=[
            (CLASS, 'cart_mod', 1, 20),
            (CLASS, 'cart_mod.cart', 5, 7),
            (METHOD, 'cart_mod.total', 9, 14),
            (METHOD, 'cart_mod.show', 16, 19),
            (FUNCTION, 'main', 22, 25),
        ],
        imports={
            ('cart_mod', (), '', 23),
            ('iso_fortran_env', (('int64', 'int64'),), '', 3),
        },
        calls={
            ('cart_mod.show', '', 'log_it'),
            ('cart_mod.total', '', 'helper'),
            ('main', '', 'cart'),
            ('main', '', 'show'),
        },
        signatures={
            'cart_mod': ('module cart_mod', 'Cart arithmetic.'),
            'cart_mod.total': ('function total(c) result(t)', 'Total of the cart.'),
        },
    ),
    Case(
        'verilog', 'rtl/counter.sv',
        '''\
`include "defs.vh"
// A counter.
module counter #(parameter W = 8) (
  input clk,
  output reg [W-1:0] q
);
  adder #(.W(W)) u_add (.a(q), .b(1), .s(next));

  // Adds one.
  function integer inc(input integer x);
    inc = x + 1;
  endfunction
endmodule

package pkg;
  import other_pkg::*;
endpackage

class Packet extends Base;
  function void show(); $display("p"); endfunction
endclass
''',
        definitions=[
            (CLASS, 'counter', 2, 13),
            (METHOD, 'counter.inc', 9, 12),
            (CLASS, 'pkg', 15, 17),
            (CLASS, 'Packet', 19, 21),
            (METHOD, 'Packet.show', 20, 20),
        ],
        imports={
            ('defs.vh', (), '', 1),
            ('other_pkg', (), '', 16),
        },
        calls={
            ('counter', '', 'adder'),
        },
        inherits={('Packet', 'Base')},
        signatures={
            'counter': ('module counter #(parameter W = 8) (\n  input clk,\n  output reg [W-1:0] q\n)', 'A counter.'),
            'counter.inc': ('function integer inc(input integer x)', 'Adds one.'),
        },
    ),
    Case(
        'nix', 'default.nix',
        '''\
{ pkgs ? import <nixpkgs> {}, lib }:
let
  helper = x: x + 1;
  utils = import ./utils.nix { inherit lib; };
  # Builds the shop.
  mkShop = { name, version }: pkgs.stdenv.mkDerivation {
    pname = name;
    inherit version;
  };
in {
  shop = mkShop { name = "shop"; version = "1.0"; };
  total = helper 2;
  tools = pkgs.callPackage ./tools.nix { };
  meta = { license = lib.licenses.mit; };
}
''',
        definitions=[
            (FUNCTION, 'helper', 3, 3),
            (FUNCTION, 'mkShop', 5, 9),
            (CLASS, 'meta', 14, 14),
        ],
        imports={
            ('./tools.nix', (), '', 13),
            ('./utils.nix', (), '', 4),
            ('nixpkgs', (), '', 1),
        },
        calls={
            ('', '', 'helper'),
            ('', '', 'mkShop'),
            ('', 'pkgs', 'callPackage'),
            ('mkShop', 'pkgs.stdenv', 'mkDerivation'),
        },
        signatures={
            'mkShop': ('mkShop = { name, version }:', 'Builds the shop.'),
            'meta': ('meta =', ''),
        },
    ),
]
BY_LANGUAGE = {case.language: case for case in CASES}
MORE_LANGUAGES = frozenset(BY_LANGUAGE)  # the languages these fixtures cover (test_parse covers the rest)


def test_at_least_thirty_languages_have_a_grammar_and_queries() -> None:
    assert len(CODE_LANGUAGES) >= 30
    assert MORE_LANGUAGES <= CODE_LANGUAGES
    for language in MORE_LANGUAGES:
        assert get_parser(language) is not None, language
        assert get_query(language) is not None, language


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("src/Main.hs", "haskell"), ("lib/app.ex", "elixir"), ("test/app_test.exs", "elixir"),
        ("build.zig", "zig"), ("lib/a.ml", "ocaml"), ("src/A.jl", "julia"), ("bin/x.pl", "perl"),
        ("lib/X.pm", "perl"), ("t/basic.t", "perl"), ("A.m", "objc"), ("A.mm", "objc"),
        ("build.gradle", "groovy"), ("Jenkinsfile", "groovy"), ("src/A.groovy", "groovy"),
        ("contracts/A.sol", "solidity"), ("x.ps1", "powershell"), ("Mod.psm1", "powershell"),
        ("db/001_init.SQL", "sql"), ("main.tf", "hcl"), ("prod.tfvars", "hcl"), ("config.hcl", "hcl"),
        ("Dockerfile", "dockerfile"), ("Containerfile", "dockerfile"), ("api.dockerfile", "dockerfile"),
        ("deploy/Dockerfile.prod", "dockerfile"), ("Dockerfile.md", "markdown"), ("dockerfiles.txt", "text"),
        ("src/a.f90", "fortran"), ("src/a.F90", "fortran"), ("rtl/top.v", "verilog"),
        ("rtl/top.sv", "verilog"), ("default.nix", "nix"), ("legacy.f", "unknown"), ("x.h", "c"),
    ],
)
def test_extensions_and_names_of_the_new_languages(path: str, language: str) -> None:
    assert language_for_path(path) == language


@pytest.mark.parametrize("language", sorted(BY_LANGUAGE))
def test_known_answers(language: str) -> None:
    case = BY_LANGUAGE[language]
    assert language_for_path(case.path) == language
    result = parse_source(case.path, case.source, language)
    assert result.error == ""
    assert [(d.kind, d.qualname, d.start_line, d.end_line) for d in result.definitions] == case.definitions
    assert {(i.module, i.names, i.alias, i.line) for i in result.imports} == case.imports
    assert {(r.source, r.receiver, r.name) for r in result.references if r.kind == CALL} == case.calls
    assert {(r.source, r.name) for r in result.references if r.kind == INHERIT} == case.inherits
    chunks = {c.qualname: c for c in result.chunks if c.part in (0, 1)}
    for qualname, (signature, docstring) in case.signatures.items():
        assert (chunks[qualname].signature, chunks[qualname].docstring) == (signature, docstring), qualname


def test_a_definition_head_written_as_a_call_is_not_a_call() -> None:
    result = parse_source("a.jl", "f(x) = g(x)\nfunction h(y)\n    f(y)\nend\n", "julia")
    calls = {(r.source, r.name) for r in result.references if r.kind == CALL}
    assert calls == {("f", "g"), ("h", "f")}


def test_objc_selectors_are_named_by_their_first_part() -> None:
    source = (
        "@implementation A\n"
        "- (void)add:(int)a to:(int)b {\n"
        "    [self log:a with:b];\n"
        "    [[self items] count];\n"
        "}\n"
        "@end\n"
    )
    result = parse_source("A.m", source, "objc")
    assert [(d.qualname, d.start_line, d.end_line) for d in result.definitions] == [("A.add", 2, 5)]
    calls = {(r.receiver, r.name) for r in result.references if r.kind == CALL}
    assert calls == {("self", "log"), ("self", "items"), ("[self items]", "count")}


def test_multi_line_ocaml_doc_comment_is_cleaned() -> None:
    source = "(**\n * Adds one.\n * Really.\n *)\nlet inc x = x + 1\n"
    chunk = next(c for c in parse_source("a.ml", source, "ocaml").chunks if c.qualname == "inc")
    assert (chunk.start_line, chunk.docstring) == (1, "Adds one.\nReally.")


# -- shebangs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "language"),
    [
        (b"#!/usr/bin/env python3\nprint(1)\n", "python"),
        (b"#!/usr/bin/python3.12 -u\n", "python"),
        (b"#!/bin/bash\nset -e\n", "bash"),
        (b"#!/bin/sh -e\r\n", "bash"),
        (b"#!/usr/bin/env node\n", "javascript"),
        (b"#!/usr/bin/perl -w\n", "perl"),
        (b"#!/usr/bin/env ruby\n", "ruby"),
        (b"#!/usr/bin/env -S python3 -u\n", "python"),
        (b"#!/usr/bin/env -S LC_ALL=C lua5.4\n", "lua"),
        (b"#! /usr/bin/env pwsh\n", "powershell"),
        (b"#!/usr/bin/env awk -f\n", "unknown"),  # an interpreter with no grammar here
        (b"#!/usr/bin/env\n", "unknown"),
        (b"#!\n", "unknown"),
        (b"# just a comment\n", "unknown"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "unknown"),
        (b"#!/bin/sh\x00\x01\x02", "unknown"),
        (b"", "unknown"),
        (b"#!/usr/bin/env" + b" " * 300 + b"python3\n", "unknown"),  # beyond the 256 bytes read
    ],
)
def test_language_for_shebang(head: bytes, language: str) -> None:
    assert language_for_shebang(head) == language


def write(root: Path, rel: str, content: bytes, mode: int = 0o755) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.chmod(path, mode)


def test_discovery_reads_the_shebang_of_extension_less_files(tmp_path: Path) -> None:
    write(tmp_path, "bin/tool", b"#!/usr/bin/env python3\nimport sys\n")
    write(tmp_path, "bin/deploy", b"#!/bin/bash\necho hi\n")
    write(tmp_path, "bin/serve", b"#!/usr/bin/env -S node --no-warnings\nconsole.log(1)\n")
    write(tmp_path, "bin/legacy", b"#!/usr/bin/perl -w\nprint 1;\n")
    write(tmp_path, "bin/report", b"#!/usr/bin/env awk -f\n{ print }\n")
    write(tmp_path, "bin/notes", b"no shebang here\n")
    write(tmp_path, "bin/empty", b"")
    write(tmp_path, "bin/blob", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    write(tmp_path, "docs/run.txt", b"#!/bin/bash\n")  # the extension decides
    write(tmp_path, "Gemfile", b"#!/usr/bin/env python3\n")  # so does a well-known name
    result = discover(tmp_path)
    languages = {f.path: f.language for f in result.files}
    assert languages == {
        "bin/tool": "python", "bin/deploy": "bash", "bin/serve": "javascript", "bin/legacy": "perl",
        "bin/report": "unknown", "bin/notes": "unknown", "bin/empty": "unknown",
        "docs/run.txt": "text", "Gemfile": "ruby",
    }
    assert {s.path: s.reason for s in result.skipped} == {"bin/blob": "binary"}


def test_shebang_read_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "bin/big", b"#!/usr/bin/env ruby\n" + b"x = 1\n" * 100_000)
    reads: list[int] = []
    real_open = open

    class Spy:
        def __init__(self, handle) -> None:
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.handle.close()

        def read(self, size: int = -1) -> bytes:
            reads.append(size)
            return self.handle.read(size)

    def spy_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return Spy(handle) if str(file).endswith("bin/big") and "b" in mode else handle

    monkeypatch.setattr(disc, "open", spy_open, raising=False)
    [found] = discover(tmp_path, max_file_bytes=10_000_000).files
    assert found.language == "ruby"
    assert reads and all(0 < size <= 8192 for size in reads)  # the binary sniff and the 256-byte shebang read
    assert 256 in reads
