#!/usr/bin/perl
# Perl Mail::DKIM (libmail-dkim-perl 1.20230212) as a DKIM reference oracle.
#
# usage:
#   maildkim_oracle.pl verify --records KEYS.txt [--raw] [-v] FILE.eml [FILE.eml ...]
#       One line per DKIM-Signature field, top-most first: "INDEX RESULT"
#       (or "FILE<TAB>INDEX<TAB>RESULT" when several files are given).
#       Mail::DKIM::Verifier->new(Strict => 1) (RFC 8301: no rsa-sha1, no
#       small keys).  RESULT: pass | fail as reported; invalid -> permerror,
#       except "DNS error"/"DNS query timeout" -> temperror; a field
#       Mail::DKIM did not evaluate -> none.  No signature: no line.
#       DNS is answered from KEYS.txt (NAME<TAB>RECORD[<TAB>STRINGS]) with
#       real Net::DNS packets: TXT split into <=255-byte strings (or the
#       STRINGS column), NXDOMAIN for unlisted names, SERVFAIL for !TEMPFAIL.
#       -v writes Mail::DKIM's detail for each result to stderr.
#       --raw gives Mail::DKIM the file's exact bytes, never converted (for
#       files that mix line endings); signature fields are still counted by
#       Mail::DKIM's own header parser.
#   maildkim_oracle.pl sign --key RSA.pem --domain D --selector S
#                           [--algorithm rsa-sha256] [--canonicalization relaxed/simple]
#                           [--headers from:to:subject] [--body-length] FILE.eml
#       Writes the message with a DKIM-Signature field prepended to stdout,
#       CRLF line endings (an LF-only input is converted).  RSA keys only
#       (this Mail::DKIM cannot do Ed25519).  --headers becomes h= verbatim.
#
# LF-only input files (no CRLF at all) are converted to CRLF first (not with verify --raw).
# Exit status: 0 ok, 1 I/O or signing error, 2 usage error.
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Mail::DKIM::Signer;
use Mail::DKIM::Signature;
use Mail::DKIM::PrivateKey;
use Mail::DKIM::DNS;
use Net::DNS;

my $USAGE = <<'EOT';
usage: maildkim_oracle.pl verify --records KEYS.txt [--raw] [-v] FILE.eml [FILE.eml ...]
       maildkim_oracle.pl sign --key RSA.pem --domain D --selector S [--algorithm rsa-sha256]
                               [--canonicalization relaxed/simple] [--headers from:to:subject]
                               [--body-length] FILE.eml
EOT

# ---- resolver answering from the records file --------------------------------
package RecordsResolver;

sub new { my ( $class, $recs ) = @_; return bless { recs => $recs, err => 'NOERROR' }, $class }

sub send {
    my ( $self, $name, $type ) = @_;
    ( my $key = lc $name ) =~ s/\.\z//;
    my $packet = Net::DNS::Packet->new( $name, $type, 'IN' );
    $packet->header->qr(1);
    my $rec = $self->{recs}{$key};
    $self->{err} = !exists $self->{recs}{$key} ? 'NXDOMAIN' : !defined $rec ? 'SERVFAIL' : 'NOERROR';
    $packet->header->rcode( $self->{err} );
    if ( $self->{err} eq 'NOERROR' && uc $type eq 'TXT' ) {
        $packet->push( answer => Net::DNS::RR->new(
            owner => $name, type => 'TXT', ttl => 300, txtdata => [@$rec] ) );
    }
    return $packet;
}

sub errorstring { return $_[0]{err} }

# ---- verifier that remembers every DKIM-Signature field in order ------------
package FieldVerifier;
our @ISA = ('Mail::DKIM::Verifier');

sub handle_header {
    my ( $self, $name, $contents, $line ) = @_;
    my $before = scalar @{ $self->{signatures} };
    $self->SUPER::handle_header( $name, $contents, $line );
    if ( lc $name eq 'dkim-signature' ) {
        push @{ $self->{fields} }, @{ $self->{signatures} } > $before
          ? $self->{signatures}[-1]
          : 'unparseable: ' . ( $self->{signature_reject_reason} // '?' );
    }
}

package main;

sub fail_usage { print STDERR "error: $_[0]\n$USAGE"; exit 2 }
sub fail_io    { print STDERR "maildkim_oracle.pl: $_[0]\n"; exit 1 }

sub slurp {
    my ($path) = @_;
    open( my $fh, '<:raw', $path ) or fail_io("cannot read $path: $!");
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data // '';
}

sub read_message {
    my $msg = slurp( $_[0] );
    $msg =~ s/\012/\015\012/g if index( $msg, "\015\012" ) < 0;
    return $msg;
}

sub load_records {
    my ($path) = @_;
    my %recs;
    my $n = 0;
    foreach my $line ( split /\012/, slurp($path) ) {
        $n++;
        $line =~ s/\015\z//;
        next if $line !~ /\S/ || $line =~ /^#/;
        my @cols = split /\t/, $line, -1;
        fail_io("$path:$n: expected NAME<TAB>RECORD") if @cols < 2;
        ( my $name = lc $cols[0] ) =~ s/^\s+|\s+\z|\.\z//g;
        if ( $cols[1] eq '!TEMPFAIL' ) { $recs{$name} = undef; next }
        my @strings = ( defined $cols[2] && $cols[2] ne '' )
          ? split( /" "/, $cols[2], -1 )
          : ( $cols[1] =~ /(.{1,255})/gs );
        $recs{$name} = @strings ? \@strings : [''];
    }
    return \%recs;
}

sub verify_file {
    my ( $path, $verbose, $raw ) = @_;
    local $SIG{__WARN__} = sub { print STDERR "$path: warning: $_[0]" if $verbose };
    my $dkim = FieldVerifier->new( Strict => 1 );
    $dkim->{fields} = [];
    $dkim->PRINT( $raw ? slurp($path) : read_message($path) );
    $dkim->CLOSE;
    my @out;
    foreach my $f ( @{ $dkim->{fields} } ) {
        my ( $res, $detail );
        if ( ref $f ) {
            $res    = $f->result // 'none';
            $detail = $f->result_detail // '';
        }
        else {
            ( $res, $detail ) = ( 'invalid', $f );
        }
        if ( $res eq 'invalid' ) {
            $res = $detail =~ /DNS error|DNS query timeout/ ? 'temperror' : 'permerror';
        }
        print STDERR "$path ", scalar(@out) + 1, " $res $detail\n" if $verbose;
        push @out, $res;
    }
    return \@out;
}

sub sign_file {
    my ( $opt, $path ) = @_;
    my $alg = $opt->{algorithm} // 'rsa-sha256';
    fail_io("Mail::DKIM $Mail::DKIM::VERSION signs with rsa-sha256/rsa-sha1 only, not $alg")
      unless $alg =~ /^rsa-sha(256|1)\z/;
    my $key = eval { Mail::DKIM::PrivateKey->load( File => $opt->{key} ) }
      or fail_io("cannot load RSA key $opt->{key}: " . ( $@ || 'unknown error' ));
    eval { $key->cork } or fail_io("$opt->{key} is not an RSA private key (this Mail::DKIM signs with RSA only)");
    my $msg = read_message($path);
    my $run = sub {
        my ($length) = @_;
        my $policy = sub {
            my $signer = shift;
            my $sig = Mail::DKIM::Signature->new(
                Algorithm => $alg,
                Method    => $opt->{canonicalization} // 'relaxed/simple',
                Domain    => $opt->{domain},
                Selector  => $opt->{selector},
                Headers   => $opt->{headers} // $signer->headers,
                Key       => $key,
            );
            $sig->body_count($length) if defined $length;
            $signer->add_signature($sig);
            return;
        };
        my $signer = Mail::DKIM::Signer->new( Policy => $policy, Key => $key );
        $signer->PRINT($msg);
        $signer->CLOSE;
        return $signer;
    };
    my $signer = eval { $run->(undef) } or fail_io("signing failed: $@");
    if ( $opt->{'body-length'} ) {    # l= = the canonicalized body length
        my $canon = $signer->{algorithms}[0]{body_canon} || $signer->{algorithms}[0]{canon};
        $signer = eval { $run->( $canon->body_count ) } or fail_io("signing failed: $@");
    }
    my $sig = $signer->signature or fail_io('Mail::DKIM produced no signature');
    binmode STDOUT;
    print $sig->as_string, "\015\012", $msg;
}

# ---- command line -------------------------------------------------------------
my $cmd = shift @ARGV // '';
if ( $cmd eq '-h' || $cmd eq '--help' ) { print $USAGE; exit 0 }
fail_usage('expected "verify" or "sign"') unless $cmd eq 'verify' || $cmd eq 'sign';
my %takes = $cmd eq 'verify'
  ? ( '--records' => 1, '--raw' => 0, '-v' => 0 )
  : map { $_ => 1 } qw(--key --domain --selector --algorithm --canonicalization --headers);
$takes{'--body-length'} = 0 if $cmd eq 'sign';
my ( %opt, @files );
while (@ARGV) {
    my $a = shift @ARGV;
    if ( $a =~ /^-./ ) {
        fail_usage("unknown option $a for $cmd") unless exists $takes{$a};
        ( my $k = $a ) =~ s/^-+//;
        if ( $takes{$a} ) {
            fail_usage("$a needs a value") unless @ARGV;
            $opt{$k} = shift @ARGV;
        }
        else { $opt{$k} = 1 }
    }
    else { push @files, $a }
}

if ( $cmd eq 'verify' ) {
    fail_usage('verify needs --records FILE and at least one message file')
      unless defined $opt{records} && @files;
    Mail::DKIM::DNS::resolver( RecordsResolver->new( load_records( $opt{records} ) ) );
    foreach my $file (@files) {
        my $res = verify_file( $file, $opt{v}, $opt{raw} );
        my $i = 0;
        foreach my $r (@$res) {
            $i++;
            print @files > 1 ? "$file\t$i\t$r\n" : "$i $r\n";
        }
    }
}
else {
    fail_usage('sign needs --key, --domain, --selector and exactly one message file')
      unless defined $opt{key} && defined $opt{domain} && defined $opt{selector} && @files == 1;
    sign_file( \%opt, $files[0] );
}
exit 0;
