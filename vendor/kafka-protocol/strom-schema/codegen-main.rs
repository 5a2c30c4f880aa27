use failure::Error;
pub mod generate_messages;
fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let out = &args[1];
    let inputs = args[2..].iter().map(std::path::PathBuf::from).collect();
    generate_messages::run(out, inputs)?;
    Ok(())
}
