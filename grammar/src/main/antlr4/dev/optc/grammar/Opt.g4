// The optimizer language (.opt), syntax only: see DSL.md. Meaning (names, kinds, shapes) is checked in
// the compiler's frontend; this grammar has no actions so that it stays a readable spec.
//
// Newlines are plain white space: a statement always starts with a keyword or a name and an expression
// can never be followed directly by a name, so statement boundaries are unambiguous. ';' is an optional
// separator.
grammar Opt;

program
    : (statement | SEMI)* EOF
    ;

statement
    : OPTIMIZER name=NAME                                                        # optimizerDecl
    | HYPER name=NAME ASSIGN expr                                                # hyperDecl
    | STATE name=NAME (COLON shape=NAME)? (AS dtype=NAME)? (ASSIGN init=expr)?   # stateDecl
    | INPUT name=NAME                                                            # inputDecl
    | EVALUATE name=NAME                                                         # evaluateDecl
    | DEF name=NAME LPAREN (params+=NAME (COMMA params+=NAME)*)? RPAREN ASSIGN expr # defDecl
    | METRIC name=NAME ASSIGN expr                                               # metricDecl
    | target=NAME op=(ASSIGN | PLUS_ASSIGN | MINUS_ASSIGN | STAR_ASSIGN | SLASH_ASSIGN) expr # assign
    ;

// Alternatives are listed from the tightest binding to the loosest (ANTLR's precedence order).
expr
    : fn=NAME LPAREN (args+=expr (COMMA args+=expr)*)? RPAREN                    # call
    | LPAREN expr RPAREN                                                         # paren
    | NAME                                                                       # nameRef
    | NUMBER                                                                     # number
    | (TRUE | FALSE)                                                             # bool
    | <assoc = right> left=expr op=CARET right=expr                              # power
    | op=MINUS expr                                                              # negate
    | left=expr op=(STAR | SLASH | PERCENT) right=expr                           # multiplicative
    | left=expr op=(PLUS | MINUS) right=expr                                     # additive
    | left=expr op=(LT | LE | GT | GE | EQ | NE) right=expr                      # comparison
    | op=NOT expr                                                                # not
    | left=expr op=AND right=expr                                                # and
    | left=expr op=OR right=expr                                                 # or
    | <assoc = right> cond=expr QUESTION then=expr COLON otherwise=expr          # ternary
    ;

OPTIMIZER : 'optimizer';
HYPER     : 'hyper';
STATE     : 'state';
INPUT     : 'input';
EVALUATE  : 'evaluate';
DEF       : 'def';
METRIC    : 'metric';
AS        : 'as';
AND       : 'and';
OR        : 'or';
NOT       : 'not';
TRUE      : 'true';
FALSE     : 'false';

PLUS_ASSIGN  : '+=';
MINUS_ASSIGN : '-=';
STAR_ASSIGN  : '*=';
SLASH_ASSIGN : '/=';
LE        : '<=';
GE        : '>=';
EQ        : '==';
NE        : '!=';
ASSIGN    : '=';
LT        : '<';
GT        : '>';
PLUS      : '+';
MINUS     : '-';
STAR      : '*';
SLASH     : '/';
PERCENT   : '%';
CARET     : '^';
QUESTION  : '?';
COLON     : ':';
COMMA     : ',';
SEMI      : ';';
LPAREN    : '(';
RPAREN    : ')';

NUMBER
    : DIGIT+ ('.' DIGIT*)? EXPONENT?
    | '.' DIGIT+ EXPONENT?
    ;
NAME      : [A-Za-z_] [A-Za-z0-9_]*;

COMMENT   : '#' ~[\r\n]* -> skip;
WS        : [ \t\r\n\f]+ -> skip;
// Any other character becomes a token of its own so that the parser reports it with a position
// instead of the lexer dropping it.
UNEXPECTED_CHAR : . ;

fragment DIGIT    : [0-9];
fragment EXPONENT : [eE] [+-]? DIGIT+;
